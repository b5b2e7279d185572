import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "./style.css";
import { Link } from "./util";
import { ProcessesPage } from "./pages/Processes";
import { ProcessPage } from "./pages/Process";
import { LogsPage } from "./pages/Logs";
import { MetricsPage } from "./pages/Metrics";
import { FlamePage } from "./pages/Flame";
import { ReportPage } from "./pages/Report";
import { SqlPage } from "./pages/Sql";
import { JobsPage } from "./pages/Jobs";

// The app's routes; the server answers index.html for each first segment here
// (src/server/api_web.c's app_routes), so links and reloads open the right page.
const nav: [string, string][] = [
  ["/processes", "Processes"], ["/logs", "Logs"], ["/charts", "Metrics"], ["/flame", "Flame graph"],
  ["/report", "Report"], ["/sql", "SQL"], ["/jobs", "Jobs"],
];

function Page(p: { path: string }) {
  const seg = p.path.split("/").filter(Boolean);
  switch (seg[0] ?? "processes") {
    case "processes": return <ProcessesPage />;
    case "process": return <ProcessPage id={seg[1] ?? ""} />;
    case "logs": return <LogsPage />;
    case "charts": return <MetricsPage />;
    case "flame": return <FlamePage />;
    case "report": return <ReportPage />;
    case "sql": return <SqlPage />;
    case "jobs": return <JobsPage />;
    default: return <div class="error">No page at {p.path}</div>;
  }
}

function App() {
  const [path, setPath] = useState(location.pathname + location.search);
  useEffect(() => {
    const on = () => setPath(location.pathname + location.search);
    addEventListener("popstate", on);
    return () => removeEventListener("popstate", on);
  }, []);
  const first = "/" + (location.pathname.split("/")[1] || "processes");
  return (
    <>
      <header>
        <span class="brand">streamlake</span>
        <nav>{nav.map(([href, label]) =>
          <Link href={href} class={first === href || (href === "/processes" && first === "/process") ? "active" : ""}>{label}</Link>)}
        </nav>
      </header>
      <main key={path}><Page path={location.pathname} /></main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
