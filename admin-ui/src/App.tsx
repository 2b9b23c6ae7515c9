// Routes and the shell around every page: navigation (what the role may see), the
// operator and logout. Without a session every path shows the login form and comes
// back to the same page after logging in.
import { useEffect, useState, type ComponentType } from "react";
import { SessionProvider, useSession } from "./lib/auth";
import type { Scope } from "./lib/permissions";
import { Link, match, navigate, useLocation } from "./lib/router";
import { Login } from "./pages/Login";
import { Dashboard } from "./pages/Dashboard";
import { TemplateList } from "./pages/TemplateList";
import { TemplateEditor } from "./pages/TemplateEditor";
import { AudienceList } from "./pages/AudienceList";
import { AudienceEditor } from "./pages/AudienceEditor";
import { AudienceDetail } from "./pages/AudienceDetail";
import { CampaignList } from "./pages/CampaignList";
import { CampaignWizard } from "./pages/CampaignWizard";
import { CampaignDetail } from "./pages/CampaignDetail";
import { ReviewQueue } from "./pages/ReviewQueue";
import { Deliveries } from "./pages/Deliveries";
import { Reports } from "./pages/Reports";
import { DeadLetters } from "./pages/DeadLetters";
import { ApiKeys } from "./pages/ApiKeys";
import { Operators } from "./pages/Operators";
import { AuditLog } from "./pages/AuditLog";
import { Rules } from "./pages/Rules";
import { RuleEditor } from "./pages/RuleEditor";
import { Channels } from "./pages/Channels";
import { Subscribers } from "./pages/Subscribers";
import { NewSubscriber, SubscriberDetail } from "./pages/SubscriberDetail";
import { EventEndpoints } from "./pages/EventEndpoints";
import { KillSwitch } from "./pages/KillSwitch";
import { HaltBanner } from "./ui/HaltBanner";
import { ToastProvider } from "./ui/toasts";
import { Button } from "./ui/kit";

type Params = Record<string, string>;
type Route = { pattern: string; page: ComponentType<{ params: Params }>; scope?: Scope };

const ROUTES: Route[] = [
  { pattern: "/", page: Dashboard, scope: "campaigns:read" },
  { pattern: "/review", page: ReviewQueue, scope: "campaigns:review" },
  { pattern: "/campaigns", page: CampaignList, scope: "campaigns:read" },
  { pattern: "/campaigns/new", page: CampaignWizard, scope: "campaigns:write" },
  { pattern: "/campaigns/:id/edit", page: CampaignWizard, scope: "campaigns:write" },
  { pattern: "/campaigns/:id", page: CampaignDetail, scope: "campaigns:read" },
  { pattern: "/templates", page: TemplateList, scope: "templates:read" },
  { pattern: "/templates/new", page: TemplateEditor, scope: "templates:write" },
  { pattern: "/templates/:id", page: TemplateEditor, scope: "templates:read" },
  { pattern: "/audiences", page: AudienceList, scope: "audiences:read" },
  { pattern: "/audiences/new", page: AudienceEditor, scope: "audiences:write" },
  { pattern: "/audiences/:id", page: AudienceDetail, scope: "audiences:read" },
  { pattern: "/subscribers", page: Subscribers, scope: "subscribers:read" },
  { pattern: "/subscribers/new", page: NewSubscriber, scope: "subscribers:write" },
  { pattern: "/subscribers/:id", page: SubscriberDetail, scope: "subscribers:read" },
  { pattern: "/rules", page: Rules, scope: "rules:read" },
  { pattern: "/rules/new", page: RuleEditor, scope: "rules:write" },
  { pattern: "/rules/:id", page: RuleEditor, scope: "rules:write" },
  { pattern: "/deliveries", page: Deliveries, scope: "deliveries:read" },
  { pattern: "/reports", page: Reports, scope: "deliveries:read" },
  { pattern: "/dead-letters", page: DeadLetters, scope: "deliveries:read" },
  { pattern: "/kill-switch", page: KillSwitch, scope: "campaigns:read" },
  { pattern: "/api-keys", page: ApiKeys, scope: "api_keys:manage" },
  { pattern: "/event-endpoints", page: EventEndpoints, scope: "events:manage" },
  { pattern: "/channels", page: Channels, scope: "channels:manage" },
  { pattern: "/operators", page: Operators, scope: "operators:manage" },
  { pattern: "/audit", page: AuditLog, scope: "audit:read" },
];

const NAV: { to: string; label: string; scope: Scope; section: string }[] = [
  { to: "/", label: "Dashboard", scope: "campaigns:read", section: "Messaging" },
  { to: "/review", label: "Review queue", scope: "campaigns:review", section: "Messaging" },
  { to: "/campaigns", label: "Campaigns", scope: "campaigns:read", section: "Messaging" },
  { to: "/templates", label: "Templates", scope: "templates:read", section: "Messaging" },
  { to: "/audiences", label: "Audiences", scope: "audiences:read", section: "Messaging" },
  { to: "/subscribers", label: "Subscribers", scope: "subscribers:read", section: "Messaging" },
  { to: "/rules", label: "Rules", scope: "rules:read", section: "Delivery" },
  { to: "/reports", label: "Reports", scope: "deliveries:read", section: "Delivery" },
  { to: "/deliveries", label: "Delivery log", scope: "deliveries:read", section: "Delivery" },
  { to: "/dead-letters", label: "Dead letters", scope: "deliveries:read", section: "Delivery" },
  { to: "/kill-switch", label: "Kill switch", scope: "campaigns:read", section: "Delivery" },
  { to: "/channels", label: "Channels", scope: "channels:manage", section: "Administration" },
  { to: "/api-keys", label: "API keys", scope: "api_keys:manage", section: "Administration" },
  { to: "/event-endpoints", label: "Event endpoints", scope: "events:manage", section: "Administration" },
  { to: "/operators", label: "Operators", scope: "operators:manage", section: "Administration" },
  { to: "/audit", label: "Audit log", scope: "audit:read", section: "Administration" },
];

export function App() {
  return (
    <SessionProvider>
      <ToastProvider>
        <Routed />
      </ToastProvider>
    </SessionProvider>
  );
}

function Routed() {
  const { operator } = useSession();
  const { path } = useLocation();
  if (!operator) return <Login />;
  if (path === "/login") {
    navigate("/", { replace: true });
    return null;
  }
  return <Shell path={path} />;
}

function findRoute(path: string): { route: Route; params: Params } | null {
  for (const route of ROUTES) {
    const params = match(route.pattern, path);
    if (params) return { route, params };
  }
  return null;
}

function Shell({ path }: { path: string }) {
  const { operator, can, logout } = useSession();
  const [menuOpen, setMenuOpen] = useState(false);
  const found = findRoute(path);
  useEffect(() => setMenuOpen(false), [path]);

  const items = NAV.filter((item) => can(item.scope));
  const sections = [...new Set(items.map((item) => item.section))];
  const active = (to: string) => (to === "/" ? path === "/" : path === to || path.startsWith(`${to}/`));

  let body;
  if (!found) body = <NotFound />;
  else if (found.route.scope && !can(found.route.scope)) body = <NotAllowed />;
  else {
    const Page = found.route.page;
    body = <Page key={path} params={found.params} />;
  }

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="menu-button"
          aria-expanded={menuOpen}
          aria-controls="nav"
          onClick={() => setMenuOpen((open) => !open)}
        >
          <span aria-hidden="true">☰</span> Menu
        </button>
        <Link to="/" className="brand">
          <span className="brand-mark" aria-hidden="true">H</span> Herald
        </Link>
        <div className="whoami">
          <span className="whoami-name">{operator?.display_name || operator?.username}</span>
          <span className="badge badge-neutral">{operator?.role}</span>
          <Button kind="ghost" onClick={() => void logout()}>
            Log out
          </Button>
        </div>
      </header>
      <nav id="nav" className={`sidebar${menuOpen ? " open" : ""}`} aria-label="Main">
        {sections.map((section) => (
          <div key={section} className="nav-section">
            <p className="nav-heading">{section}</p>
            <ul>
              {items
                .filter((item) => item.section === section)
                .map((item) => (
                  <li key={item.to}>
                    <Link to={item.to} aria-current={active(item.to) ? "page" : undefined}>
                      {item.label}
                    </Link>
                  </li>
                ))}
            </ul>
          </div>
        ))}
        <div className="nav-section">
          <p className="nav-heading">Developers</p>
          <ul>
            <li>
              <a href="/docs/">API documentation</a>
            </li>
          </ul>
        </div>
      </nav>
      <main id="main" className="content" tabIndex={-1}>
        <HaltBanner />
        {body}
      </main>
    </div>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        There is no page at this address. <Link to="/">Go to the dashboard</Link>.
      </p>
    </section>
  );
}

function NotAllowed() {
  return (
    <section>
      <h1>Not available to your role</h1>
      <p>
        Ask an admin if you need access. <Link to="/">Go to the dashboard</Link>.
      </p>
    </section>
  );
}
