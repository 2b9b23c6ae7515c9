// Bulk import from a CSV or JSON-lines file: the upload's progress, then what was
// stored and every refused row with its line, id, field and reason. The file streams
// to the server, which reads it row by row; nothing is parsed here.
import { useState, type FormEvent } from "react";
import { csrfHeader, type Schemas } from "../../api/client";
import { ApiFailure } from "../../api/errors";
import { count } from "../../lib/format";
import { Button, ErrorNotice, Field, Notice, ProgressBar } from "../../ui/kit";
import { useToast } from "../../ui/toasts";

type Report = Schemas["ImportReport"];

/// POSTs `file` to the import route, calling `progress` with the bytes sent so far.
function upload(file: File, progress: (sent: number) => void): Promise<Report> {
  const type = /\.csv$/i.test(file.name) ? "text/csv" : "application/x-ndjson";
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/v1/subscriber-imports");
    request.withCredentials = true;
    request.setRequestHeader("content-type", type);
    for (const [name, value] of Object.entries(csrfHeader())) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => progress(event.loaded);
    request.onerror = () => reject(new ApiFailure(0, "network", "the upload was interrupted"));
    request.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(request.responseText);
      } catch {
        // An answer that is not JSON is reported by its status below.
      }
      if (request.status === 200) return resolve(body as Report);
      const error = (body as { error?: { code?: string; message?: string; field?: string | null } } | null)?.error;
      reject(new ApiFailure(request.status, error?.code ?? `http_${request.status}`, error?.message ?? request.statusText, error?.field ?? null));
    };
    request.send(file);
  });
}

export function Import({ imported }: { imported: () => void }) {
  const toast = useToast();
  const [file, setFile] = useState<File | null>(null);
  const [sent, setSent] = useState<number | null>(null);
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<unknown>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    setError(null);
    setReport(null);
    setSent(0);
    try {
      const done = await upload(file, setSent);
      setReport(done);
      toast.success(`Imported ${count(done.imported)} of ${count(done.received)} rows.`);
      imported();
    } catch (failure) {
      setError(failure);
      toast.failure(failure);
    } finally {
      setSent(null);
    }
  };

  const uploading = sent !== null && file !== null;
  return (
    <form className="card" onSubmit={submit} aria-label="Import subscribers" noValidate>
      <h2>Import subscribers</h2>
      <p className="muted">
        A CSV file with a header row (<code>external_id</code>, <code>email</code>, <code>phone</code>, <code>timezone</code>,{" "}
        <code>locale</code>, <code>tags</code> separated by <code>;</code>, <code>attributes.&lt;key&gt;</code>) or JSON lines, one subscriber per
        line. Existing subscribers are replaced; invalid rows are listed and skipped.
      </p>
      {error ? <ErrorNotice error={error} /> : null}
      <div className="row">
        <Field label="File (.csv or .jsonl)">
          {(p) => <input {...p} type="file" accept=".csv,.jsonl,.ndjson,text/csv,application/x-ndjson" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />}
        </Field>
      </div>
      {uploading && (
        <>
          <ProgressBar
            label="Upload"
            total={file.size}
            parts={[{ name: "sent", tone: "success", value: Math.min(sent, file.size) }]}
          />
          <p className="small" role="status">
            {sent < file.size ? `Sent ${count(sent)} of ${count(file.size)} bytes…` : "Sent; storing the rows…"}
          </p>
        </>
      )}
      {report && (
        <>
          <Notice kind={report.failed > 0 ? "warning" : "success"}>
            Imported {count(report.imported)} of {count(report.received)} rows
            {report.failed > 0 ? `; ${count(report.failed)} refused${report.errors_truncated ? " (the first 1,000 are listed)" : ""}.` : "."}
          </Notice>
          {report.errors.length > 0 && (
            <div className="table-wrap">
              <table aria-label="Refused rows">
                <thead>
                  <tr>
                    <th scope="col">Line</th>
                    <th scope="col">External id</th>
                    <th scope="col">Field</th>
                    <th scope="col">Why</th>
                  </tr>
                </thead>
                <tbody>
                  {report.errors.map((row) => (
                    <tr key={`${row.line}-${row.field}`}>
                      <td>{row.line}</td>
                      <td>{row.external_id ?? "—"}</td>
                      <td>
                        <code>{row.field}</code>
                      </td>
                      <td>{row.message}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
      <div className="form-actions">
        <Button kind="primary" type="submit" busy={uploading} disabled={!file}>
          Import
        </Button>
      </div>
    </form>
  );
}
