/**
 * `xmpp-s2s probe` and the admin API's "test federation" (docs/operations.md): one outbound negotiation to a
 * remote domain through the server's own code (policy chain, resolver, connector, TLS provider,
 * authenticators, router), observed on `events$`, then a XEP-0199 ping round trip. Each step is
 * recorded with its time since the start; the first failing step is named with its reason.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Observable } from "rxjs";
import { Subscription } from "../cjs/rxjs.js";
import type { S2sConfig } from "../config/types.js";
import type { S2sEvent } from "../events/events.js";
import type { ConnectTarget } from "../resolver/resolver.js";
import type { OutboundSessions } from "../session/outbound-sessions.js";
import type { TlsProvider } from "../tls/tls.js";
import { peerSummary, type PeerSummary } from "../tls/peer-summary.js";
import { definedCondition, el, NS, type XmlElement } from "../xml/element.js";

export type ProbeStepName = "policy" | "resolve" | "connect" | "stream" | "starttls" | "certificate" | "auth" | "session" | "ping";

export interface ProbeStep {
  readonly step: ProbeStepName;
  /** `warning`: federation works but an operator should know (e.g. a certificate dialback does not need). */
  readonly status: "ok" | "failed" | "warning" | "info";
  /** Milliseconds since the probe started. */
  readonly atMs: number;
  readonly detail: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

export interface ProbeReport {
  readonly domain: string;
  readonly from: string;
  readonly ok: boolean;
  /** The failing step and why, when not ok. */
  readonly failedStep?: ProbeStepName;
  readonly reason?: string;
  readonly totalMs: number;
  readonly steps: readonly ProbeStep[];
}

/** What the probe needs from a started server. */
export interface ProbeTarget {
  readonly config: S2sConfig;
  readonly events$: Observable<S2sEvent>;
  readonly stanzas$: Observable<XmlElement>;
  send(stanza: XmlElement): void;
  readonly outbound: OutboundSessions;
  readonly tls: TlsProvider;
  /** Answer a stanza the probe took from `stanzas$` but does not want (it owns them while it runs). */
  bounce(stanza: XmlElement): void;
}

const PING_NS = "urn:xmpp:ping";

function targetText(t: ConnectTarget): string {
  return `${t.via && t.via !== t.host ? `${t.via} ` : ""}${t.host}:${t.port}${t.directTls ? " (direct TLS)" : ""}`;
}

/** The certificate step: what the peer presented and our verdict (RFC 6125 via the TLS provider). */
export function certificateStep(tlsMode: string, remote: string, p: PeerSummary): { status: ProbeStep["status"]; detail: string; data: Record<string, unknown> } {
  const names = `subject ${p.subject}, issuer ${p.issuer}, valid ${p.validFrom} to ${p.validTo}; identities: ${p.identities ?? "none"}`;
  const data = { ...p };
  if (p.verified) return { status: "ok", detail: `verified for ${remote} (${names})`, data };
  // Under required_trusted the negotiation stops here; otherwise dialback may still authenticate.
  return { status: tlsMode === "required_trusted" ? "failed" : "warning", detail: `NOT verified for ${remote}: ${p.reason} (${names})`, data };
}

/** Runs the probe; resolves with the report (never rejects for a federation failure). */
export async function probeFederation(target: ProbeTarget, remote: string, from: string, timeoutMs: number): Promise<ProbeReport> {
  const started = performance.now();
  const at = () => Math.round((performance.now() - started) * 10) / 10;
  const steps: ProbeStep[] = [];
  const add = (step: ProbeStepName, status: ProbeStep["status"], detail: string, data?: Record<string, unknown>) => steps.push({ step, status, atMs: at(), detail, ...(data ? { data } : {}) });
  let failure: { step: ProbeStepName; reason: string } | undefined;
  let established = false;
  const pingId = `probe-${randomBytes(6).toString("hex")}`;

  const existing = target.outbound.list().find((p) => p.local === from && p.remote === remote);
  if (existing?.state === "established") {
    add("session", "info", `an outbound session from ${from} is already established (${existing.method ?? "?"}); the ping uses it`);
    if (existing.tls) {
      const c = certificateStep(target.tls.mode, remote, peerSummary(target.tls, existing.tls, remote));
      add("certificate", c.status, c.detail, c.data);
    }
    established = true;
  }

  const subscriptions = new Subscription();
  const done = new Promise<void>((resolve) => {
    // Every way out ends both subscriptions: inside a running server, a probe that kept listening
    // would go on taking (and bouncing) unserved local stanzas.
    const finish = () => {
      clearTimeout(timer);
      subscriptions.unsubscribe();
      resolve();
    };
    // The operator's wall-clock deadline for a one-off diagnosis (CLI, admin API), not session logic:
    // it stays on real time even when the server under probe runs on another Clock.
    const timer = setTimeout(() => {
      failure ??= { step: established ? "ping" : lastStep(steps) ?? "connect", reason: `no answer within ${timeoutMs} ms` };
      finish();
    }, timeoutMs);
    const mine = (e: { local: string; remote: string }) => e.local === from && e.remote === remote;
    subscriptions.add(target.events$.subscribe((e) => {
      if (!("local" in e) || !("remote" in e) || !mine(e)) return;
      switch (e.type) {
        case "policy_decision":
          if (e.direction !== "outbound") return;
          add("policy", e.verdict === "allow" ? "ok" : "failed", `${e.verdict} (decided by ${e.decidedBy})`);
          break;
        case "resolve_done": {
          const override = target.config.s2s.address.some((a) => a.host === remote);
          const how = override ? "s2s.address override" : "DNS (SRV _xmpps-server._tcp and _xmpp-server._tcp, else A/AAAA)";
          if (e.targets === undefined) add("resolve", "failed", `${how}: lookup failed after ${Math.round(e.durationMs)} ms: ${e.reason ?? "error"}`);
          else if (e.targets.length === 0) add("resolve", "failed", `${how}: no address for XMPP (NXDOMAIN, no SRV and no A/AAAA, or SRV target ".") after ${Math.round(e.durationMs)} ms`);
          else add("resolve", "ok", `${how}: ${e.targets.map(targetText).join(", ")} (${Math.round(e.durationMs)} ms)`, { targets: e.targets });
          break;
        }
        case "connect_failed":
          add("connect", "failed", `${e.target ?? "?"}: ${e.reason}`);
          break;
        case "connected":
          add("connect", "ok", `connected to ${e.target}`);
          break;
        case "stream_features":
          add("stream", "ok", `stream id ${e.streamId || "(none)"}; ${e.secure ? "over TLS" : "plaintext"}; features: ${e.features.join(", ") || "none"}`, { features: e.features, secure: e.secure });
          break;
        case "tls_peer": {
          add("starttls", "ok", `${e.peer.version ?? "?"} ${e.peer.cipher ?? ""}`.trim());
          const c = certificateStep(target.tls.mode, remote, e.peer);
          add("certificate", c.status, c.detail, c.data);
          break;
        }
        case "tls_failed":
          add("starttls", "failed", e.reason);
          break;
        case "auth_failed":
          add("auth", "failed", `${e.method}: ${e.reason}`);
          break;
        case "authenticated":
          if (e.direction !== "outbound") return;
          add("auth", "ok", `authenticated with ${e.method}`);
          break;
        case "established":
          established = true;
          break;
        case "failed":
          failure ??= { step: classify(steps, e.reason), reason: e.reason };
          finish();
          break;
      }
    }));
    subscriptions.add(target.stanzas$.subscribe((stanza) => {
      if (stanza.name !== "iq" || stanza.attr("id") !== pingId) return target.bounce(stanza);
      if (stanza.attr("type") === "result") add("ping", "ok", `XEP-0199 pong from ${remote} after ${pingSentAt === undefined ? "?" : Math.round(at() - pingSentAt)} ms`);
      else {
        // Our own bounce after a `failed` event never reaches here: that event's handler has
        // already unsubscribed (the bus is synchronous), and the event carries the reason.
        const condition = definedCondition(stanza.getChild("error"), NS.STANZA_ERRORS);
        if (established && (condition === "service-unavailable" || condition === "feature-not-implemented")) add("ping", "ok", `round trip works; ${remote} does not answer ping (${condition})`);
        else failure ??= { step: established ? "ping" : classify(steps, condition), reason: `error reply: ${condition}` };
      }
      finish();
    }));
  });

  // A pair waiting in backoff would hold the ping: the probe asks for a fresh attempt now.
  if (existing && existing.state !== "established") target.outbound.retryNow(remote, from);
  const pingSentAt = at();
  target.send(el("iq", { type: "get", id: pingId, from, to: remote }, NS.SERVER, el("ping", {}, PING_NS)));
  await done;
  if (failure) add(failure.step, "failed", failure.reason);
  return {
    domain: remote,
    from,
    ok: failure === undefined,
    ...(failure ? { failedStep: failure.step, reason: failure.reason } : {}),
    totalMs: at(),
    steps,
  };
}

function lastStep(steps: readonly ProbeStep[]): ProbeStepName | undefined {
  return steps.at(-1)?.step;
}

/** The step a failed attempt stopped at: the last one that failed, or the one after the last success. */
function classify(steps: readonly ProbeStep[], reason: string): ProbeStepName {
  const failed = [...steps].reverse().find((s) => s.status === "failed");
  if (failed && failed.step !== "connect") return failed.step;
  if (!steps.some((s) => s.step === "resolve")) return /policy/i.test(reason) ? "policy" : "resolve";
  if (!steps.some((s) => s.step === "connect" && s.status === "ok")) return "connect";
  if (/STARTTLS|TLS/.test(reason)) return "starttls";
  if (/authenticat/i.test(reason)) return "auth";
  return "stream";
}
