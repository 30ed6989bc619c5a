/**
 * `xmpp-s2s check-config FILE --deep`: the normal check (file and plugins), then the certificate
 * files' validity periods (core/config/deep-checks.ts). Exit 0 when valid (warnings on stderr),
 * 2 with one line per problem.
 */
import { checkConfigFile } from "../check-config.js";
import { deepCheck } from "../config/deep-checks.js";
import { isConfigError } from "../errors.js";

export async function runDeepCheck(args: readonly string[]): Promise<number> {
  const files = args.filter((a) => a !== "--deep");
  if (files.length !== 1) {
    process.stderr.write("usage: xmpp-s2s check-config FILE [--deep]\n");
    return 2;
  }
  const file = files[0]!;
  let report;
  try {
    report = deepCheck(await checkConfigFile(file));
  } catch (err) {
    if (!isConfigError(err)) throw err;
    for (const line of err.problems) process.stderr.write(`${line}\n`);
    return 2;
  }
  for (const line of [...report.problems, ...report.warnings]) process.stderr.write(`${line}\n`);
  if (report.problems.length > 0) return 2;
  for (const line of report.notes) process.stdout.write(`${line}\n`);
  process.stdout.write(`${file}: configuration is valid${report.warnings.length ? ` (${report.warnings.length} warning(s))` : ""}\n`);
  return 0;
}
