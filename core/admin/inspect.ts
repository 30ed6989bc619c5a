/**
 * Read-only views of a running server for the admin API (docs/operations.md): one row per (direction,
 * local, remote) with how it authenticated, its TLS details and traffic. Built on demand from the
 * sessions' own state; nothing here is kept up to date on the stanza path.
 */
import type { S2sListeners } from "../server/s2s-listeners.js";
import type { OutboundPairView, OutboundSessions } from "../session/outbound-sessions.js";
import type { SecureChannel, TlsProvider } from "../tls/tls.js";
import { peerSummary } from "../tls/peer-summary.js";

export interface TlsView {
  readonly version: string | null;
  readonly cipher: string | null;
  readonly certificate: {
    /** Chain trusted and valid for the remote domain (RFC 6125), as `required_trusted` would judge it. */
    readonly verified: boolean;
    /** Why not (or null when verified). */
    readonly reason: string | null;
    readonly subject: string | null;
    readonly issuer: string | null;
    readonly validTo: string | null;
  };
}

export interface SessionRow {
  /** `route`: cluster mode only, a local address served by a node (see cluster-view.ts). */
  readonly direction: "inbound" | "outbound" | "route";
  readonly local: string;
  readonly remote: string;
  /** outbound: idle | connecting | established | closing; inbound: negotiating | established. */
  readonly state: string;
  readonly auth: string | null;
  readonly tls: TlsView | null;
  /** Seconds since the pair authenticated (null while not established). */
  readonly ageSeconds: number | null;
  /** Inbound: stanzas received on the stream (shared by the pairs it carries); null for outbound. */
  readonly stanzasIn: number | null;
  /** Outbound: stanzas written for this pair; null for inbound. */
  readonly stanzasOut: number | null;
  readonly queued: number;
  readonly backoff: { readonly waiting: boolean; readonly attempt: number; readonly retryInSeconds: number | null } | null;
  /** Inbound: our stream id and the peer's address. */
  readonly streamId?: string;
  readonly address?: string;
  /** Cluster mode (docs/cluster.md): the node this row was read on. */
  readonly node?: string;
  /** Cluster mode, outbound and route rows: the node owning the pair's stream or serving the address (null: not known yet). */
  readonly owner?: string | null;
}

export interface InspectSources {
  readonly outbound: OutboundSessions;
  readonly listeners: S2sListeners;
  readonly tls: TlsProvider;
  readonly now: () => number;
}

const seconds = (ms: number): number => Math.round(ms / 100) / 10;

export function tlsView(tls: TlsProvider, channel: SecureChannel | undefined, remote: string): TlsView | null {
  if (!channel) return null;
  const p = peerSummary(tls, channel, remote);
  return { version: p.version, cipher: p.cipher, certificate: { verified: p.verified, reason: p.reason, subject: p.subject, issuer: p.issuer, validTo: p.validTo } };
}

function outboundRow(s: InspectSources, p: OutboundPairView): SessionRow {
  const now = s.now();
  return {
    direction: "outbound",
    local: p.local,
    remote: p.remote,
    state: p.state,
    auth: p.method ?? null,
    tls: tlsView(s.tls, p.tls, p.remote),
    ageSeconds: p.establishedAt === undefined ? null : seconds(now - p.establishedAt),
    stanzasIn: null,
    stanzasOut: p.stanzasOut,
    queued: p.queued,
    backoff: { waiting: p.backoff.waiting, attempt: p.backoff.attempt, retryInSeconds: p.backoff.retryAt === undefined ? null : Math.max(0, seconds(p.backoff.retryAt - now)) },
  };
}

export function sessionRows(s: InspectSources): SessionRow[] {
  const rows: SessionRow[] = s.outbound.list().map((p) => outboundRow(s, p));
  const now = s.now();
  for (const stream of s.listeners.streams) {
    const row = (local: string, remote: string, auth: { method: string; at: number } | undefined): SessionRow => ({
      direction: "inbound",
      local,
      remote,
      state: auth ? "established" : "negotiating",
      auth: auth?.method ?? null,
      tls: tlsView(s.tls, stream.tls, remote),
      ageSeconds: auth ? seconds(now - auth.at) : null,
      stanzasIn: stream.stanzasIn,
      stanzasOut: null,
      queued: 0,
      backoff: null,
      streamId: stream.id,
      address: stream.remoteAddress,
    });
    const pairs = stream.pairs;
    if (pairs.length === 0) rows.push(row(stream.localDomain, stream.headerFrom ?? "", undefined));
    for (const { remote, local } of pairs) rows.push(row(local, remote, stream.authOf(remote, local)));
  }
  return rows;
}
