/**
 * `[admin]` (ours): the local admin endpoint used by `xmpp-s2s sessions|close|retry|status|probe`.
 * Off unless `socket` is set. A unix socket rather than loopback HTTP: the file's owner and mode
 * (0600 by default) decide who may administer the server, there is no token to generate, store,
 * leak or rotate, and nothing is reachable over the network, not even from other local users.
 */
import { isAbsolute, resolve } from "node:path";
import { field, nonEmptyString, problem, required, table, type CheckContext, type TableShape } from "../config/checks.js";

export interface AdminConfig {
  /** Absolute path of the unix socket. */
  readonly socket: string;
  /** File mode of the socket (default 0o600: the user running the server only). */
  readonly mode: number;
}

const SHAPE: TableShape = { keys: ["socket", "mode"] };
const MODE_EXPECTED = 'an octal file mode as a string, such as "0600" or "0660"';

const mode = (ctx: CheckContext, path: string, value: unknown): number | undefined =>
  typeof value === "string" && /^0?[0-7]{3}$/.test(value) ? Number.parseInt(value, 8) : problem(ctx, path, "not a file mode", value, MODE_EXPECTED);

export function validateAdmin(ctx: CheckContext, raw: unknown): AdminConfig | undefined {
  if (raw === undefined) return undefined;
  const t = table(ctx, "admin", raw, SHAPE, 'a table ([admin]) with socket = "PATH"');
  if (t === undefined) return undefined;
  const socket = required(ctx, t, "admin", "socket", nonEmptyString, "a file path for the admin unix socket (relative paths start at the config file's folder)");
  const m = field(ctx, t, "admin", "mode", mode) ?? 0o600;
  if (socket === undefined) return undefined;
  return { socket: isAbsolute(socket) ? socket : resolve(ctx.baseDir, socket), mode: m };
}
