import { definePlugin, POLICY } from "../../core/index.js";
import { HostPolicy } from "./host-policy.js";

export default definePlugin({
  name: "host_policy",
  description: "s2s.host_policy: per-domain allow/deny, exact match on the normalised remote domain",
  provides: [POLICY],
  s2sOptions: ["host_policy", "default_policy"],
  register(ctx) {
    ctx.provide(POLICY, { useValue: new HostPolicy(ctx.config.s2s.hostPolicy) });
  },
});
