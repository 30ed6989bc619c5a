/** How and when a (remote, local) pair authenticated on a stream (admin API, docs/operations.md). */
export interface PairAuth {
  readonly method: string;
  readonly at: number;
}

interface FirstPair extends PairAuth {
  /** Not readonly: `get` adopts the caller's equal strings (see there). */
  remote: string;
  local: string;
}

/**
 * The (remote domain, local domain) pairs authenticated on one inbound stream. Nearly every
 * stream carries one pair for its whole life: that one is a single small object, where two nested
 * Maps cost ~0.4 KiB per link (docs/performance.md, "Memory"). Further pairs (XEP-0220 §2.1.3
 * multiplexing) go to nested maps (remote -> local -> auth), so a check per stanza builds no key
 * string either way.
 */
export class AuthenticatedPairs {
  #first?: FirstPair;
  #more?: Map<string, Map<string, PairAuth>>;

  /** No pair yet (the check before every stanza). */
  get empty(): boolean {
    return this.#first === undefined;
  }

  /** Distinct remote domains. */
  get remoteCount(): number {
    if (!this.#first) return 0;
    return 1 + (this.#more?.size ?? 0) - (this.#more?.has(this.#first.remote) ? 1 : 0);
  }

  hasRemote(remote: string): boolean {
    return this.#first?.remote === remote || (this.#more?.has(remote) ?? false);
  }

  get(remote: string, local: string): PairAuth | undefined {
    const first = this.#first;
    if (first && first.remote === remote && first.local === local) {
      // Checked before every stanza, with the domains the router's caches hand out (the same
      // string objects each time): keeping those makes the next check a reference comparison
      // instead of a character-by-character one.
      first.remote = remote;
      first.local = local;
      return first;
    }
    return this.#more?.get(remote)?.get(local);
  }

  has(remote: string, local: string): boolean {
    return this.get(remote, local) !== undefined;
  }

  /** Records (or re-records) the pair. */
  set(remote: string, local: string, auth: PairAuth): void {
    const first = this.#first;
    if (!first || (first.remote === remote && first.local === local)) {
      this.#first = { remote, local, method: auth.method, at: auth.at };
      return;
    }
    const more = (this.#more ??= new Map());
    let locals = more.get(remote);
    if (!locals) more.set(remote, (locals = new Map()));
    locals.set(local, auth);
  }

  /** Every pair, the first one first. */
  *pairs(): IterableIterator<{ remote: string; local: string }> {
    if (this.#first) yield { remote: this.#first.remote, local: this.#first.local };
    for (const [remote, locals] of this.#more ?? []) for (const local of locals.keys()) yield { remote, local };
  }
}
