import { BehaviorSubject, Observable, Subject } from "../cjs/rxjs.js";
import type { XmlElement } from "../xml/element.js";

/**
 * The embedding API's `stanzas$`: stanzas for local domains that no delivery plugin took. While
 * somebody subscribes, the embedder owns those addresses (and answers IQs with `send`); with no
 * subscriber the router bounces them as usual.
 */
export class StanzaTap {
  readonly #subject = new Subject<XmlElement>();
  #subscribers = 0;
  readonly #count = new BehaviorSubject(0);
  /** The number of subscribers, now and at each change (cluster mode publishes them as routes: docs/cluster.md). */
  readonly subscribers$: Observable<number> = this.#count.asObservable();
  readonly stanzas$: Observable<XmlElement> = new Observable<XmlElement>((subscriber) => {
    this.#count.next(++this.#subscribers);
    const sub = this.#subject.subscribe(subscriber);
    return () => {
      this.#count.next(--this.#subscribers);
      sub.unsubscribe();
    };
  });

  get subscribers(): number {
    return this.#subscribers;
  }

  /** True when the stanza was handed to a subscriber. */
  offer(stanza: XmlElement): boolean {
    if (this.#subscribers === 0) return false;
    this.#subject.next(stanza);
    return true;
  }

  complete(): void {
    this.#subject.complete();
    this.#count.complete();
  }
}
