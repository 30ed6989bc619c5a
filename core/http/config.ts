/**
 * `[[listen.http]]`: MongooseIM's HTTP listener, of which xmpp-s2s serves one handler,
 * `mongoose_prometheus_handler` (the metrics of `[instrumentation.prometheus]`). Validated here,
 * next to the listener that uses it; `core/config/validate.ts` only calls it.
 */
import { SYNTAX, arrayOf, child, field, ipAddress, item, port as portNumber, problem, required, string, table, type CheckContext, type Table, type TableShape } from "../config/checks.js";

export interface PrometheusHandlerConfig {
  /** Host header to answer; "_" answers any (MongooseIM's wildcard). */
  readonly host: string;
  /** Path of the scrape endpoint, e.g. "/metrics". */
  readonly path: string;
}

export interface HttpListenerConfig {
  readonly port: number;
  /** Default "0.0.0.0" as MongooseIM; operators normally put 127.0.0.1 here. */
  readonly ipAddress: string;
  readonly prometheus: readonly PrometheusHandlerConfig[];
}

const LISTENER_SHAPE: TableShape = {
  keys: ["port", "ip_address", "handlers"],
  hints: Object.fromEntries(
    ["tls", "transport", "protocol_options", "ip_version", "proto"].map((k) => [k, "xmpp-s2s's HTTP listener takes port, ip_address and handlers only; put TLS in a reverse proxy"]),
  ),
};

const OTHER_HANDLERS = ["mod_websockets", "mod_bosh", "mongoose_graphql_handler", "mongoose_admin_api", "mongoose_client_api", "mongoose_api"];
const HANDLERS_SHAPE: TableShape = {
  keys: ["mongoose_prometheus_handler"],
  hints: Object.fromEntries(OTHER_HANDLERS.map((h) => [h, "xmpp-s2s serves only mongoose_prometheus_handler; the admin API is [admin] socket"])),
};
const HANDLER_SHAPE: TableShape = { keys: ["host", "path"] };

const LISTENER_EXPECTED = "a table with port and handlers, written [[listen.http]]";
const HANDLER_EXPECTED = 'a table with host and path, written [[listen.http.handlers.mongoose_prometheus_handler]]';
const PATH_EXPECTED = 'an absolute URL path such as "/metrics"';

const urlPath = (ctx: CheckContext, path: string, value: unknown): string | undefined => {
  const s = string(ctx, path, value);
  if (s === undefined) return undefined;
  return /^\/[^\s?#]*$/.test(s) ? s : problem(ctx, path, "not an absolute path", value, PATH_EXPECTED);
};

const handler = (ctx: CheckContext, path: string, value: unknown): PrometheusHandlerConfig | undefined => {
  const t = table(ctx, path, value, HANDLER_SHAPE, HANDLER_EXPECTED);
  if (t === undefined) return undefined;
  const host = required(ctx, t, path, "host", string, 'a host name, or "_" for any');
  const p = required(ctx, t, path, "path", urlPath, PATH_EXPECTED);
  return host === undefined || p === undefined ? undefined : { host: host.toLowerCase(), path: p };
};

function listener(ctx: CheckContext, p: string, t: Table): HttpListenerConfig | undefined {
  const port = required(ctx, t, p, "port", portNumber, SYNTAX.port);
  const ip = field(ctx, t, p, "ip_address", ipAddress) ?? "0.0.0.0";
  const handlersPath = child(p, "handlers");
  if (t["handlers"] === undefined) return problem(ctx, handlersPath, "missing handler", undefined, HANDLER_EXPECTED);
  const handlers = table(ctx, handlersPath, t["handlers"], HANDLERS_SHAPE, "a table of handler arrays");
  if (handlers === undefined) return undefined;
  const prometheusPath = child(handlersPath, "mongoose_prometheus_handler");
  const prometheus = handlers["mongoose_prometheus_handler"] === undefined ? [] : arrayOf(handler, HANDLER_EXPECTED)(ctx, prometheusPath, handlers["mongoose_prometheus_handler"]);
  if (prometheus === undefined) return undefined;
  if (prometheus.length === 0) return problem(ctx, handlersPath, "no handler", t["handlers"], HANDLER_EXPECTED);
  return port === undefined ? undefined : { port, ipAddress: ip, prometheus };
}

/** `listen.http`: undefined when absent; every problem recorded in `ctx`. */
export function validateHttpListeners(ctx: CheckContext, raw: unknown): HttpListenerConfig[] {
  const path = "listen.http";
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    problem(ctx, path, "not an array of tables", raw, `an array of tables, written [[${path}]]`);
    return [];
  }
  const out: HttpListenerConfig[] = [];
  raw.forEach((rawListener, i) => {
    const p = item(path, i);
    const t = table(ctx, p, rawListener, LISTENER_SHAPE, LISTENER_EXPECTED);
    const l = t === undefined ? undefined : listener(ctx, p, t);
    if (l) out.push(l);
  });
  return out;
}
