// A CSV download of a report or the delivery log: a plain link, so the browser streams
// the API's answer to a file with the session cookie and no script in between.
export function CsvLink({ href, what }: { href: string; what: string }) {
  return (
    <a className="btn btn-secondary csv-link" href={href} download>
      Download CSV<span className="visually-hidden"> of {what}</span>
    </a>
  );
}
