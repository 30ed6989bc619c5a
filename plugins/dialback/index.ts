import type { DependencyContainer } from "tsyringe";
import { AUTHENTICATOR, CLOCK, CLUSTER, definePlugin, DIALBACK_VERIFIER, EVENTS, OUTBOUND_SESSIONS, SESSION_SETTINGS } from "../../core/index.js";
import { DialbackAuthenticator } from "./dialback-authenticator.js";
import { randomSecret, Xep0185Keys } from "./dialback-keys.js";
import { parseDialbackOptions, type DialbackOptions } from "./options.js";

/** Server Dialback (XEP-0220) with XEP-0185 keys from `s2s.shared`. */
export default definePlugin<DialbackOptions>({
  name: "dialback",
  description: "XEP-0220 Server Dialback (originating, receiving, authoritative roles) with XEP-0185 keys",
  provides: [AUTHENTICATOR, DIALBACK_VERIFIER],
  requires: [SESSION_SETTINGS],
  s2sOptions: ["shared"],
  parseOptions: parseDialbackOptions,
  register(ctx) {
    let secret: string | readonly string[] | undefined = ctx.config.s2s.sharedSecrets ?? ctx.config.s2s.shared;
    if (secret === undefined) {
      secret = randomSecret();
      ctx.logger.warn({ what: "dialback_random_secret" }, "s2s.shared is not set: using a random secret for this process; every node of a cluster must share one, set s2s.shared");
    }
    const keys = new Xep0185Keys(secret);
    let authenticator: DialbackAuthenticator | undefined;
    // One instance for both tokens: the authenticator, and the verifier a cluster owner runs for other nodes.
    const make = (c: DependencyContainer) =>
      (authenticator ??= new DialbackAuthenticator(keys, c.resolve(OUTBOUND_SESSIONS), ctx.logger, c.resolve(SESSION_SETTINGS).negotiationTimeoutMs, ctx.options, c.resolve(EVENTS), c.resolve(CLOCK), () =>
        c.isRegistered(CLUSTER, true) ? c.resolve(CLUSTER) : undefined,
      ));
    ctx.provide(AUTHENTICATOR, { useFactory: make });
    ctx.provide(DIALBACK_VERIFIER, { useFactory: make });
  },
});
