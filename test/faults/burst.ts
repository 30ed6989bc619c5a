import { RawComponent } from "../../bench/lib/raw-component.js";
import { StanzaAccounting } from "./accounting.js";

/** A ~150-byte message from a component user to `to`, with id `f<i>`. */
export function burstMessage(from: string, to: string, i: number): string {
  return `<message from='load@${from}' to='${to}' type='chat' id='f${i}'><body>fault test message number ${i}</body></message>`;
}

/**
 * A XEP-0114 component (bench/lib/raw-component.ts) whose received stanzas feed an accounting.
 * `burst` writes `count` messages as fast as the server reads them: when the server pauses reading
 * (flow control), our socket buffer fills and we wait for it to drain, as any real component does.
 */
export class AccountedComponent {
  readonly accounting = new StanzaAccounting();
  #listeners: Array<(chunk: string) => void> = [];

  private constructor(readonly raw: RawComponent) {
    raw.socket.on("data", (chunk: string) => {
      this.accounting.feed(chunk);
      for (const l of this.#listeners) l(chunk);
    });
  }

  static async connect(host: string, port: number, domain: string, secret: string): Promise<AccountedComponent> {
    return new AccountedComponent(await RawComponent.connect(host, port, domain, secret));
  }

  /** Called after each received chunk (e.g. to cut a link once some stanzas came back). */
  onData(listener: (chunk: string) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Write messages `from`..`count - 1` to `to`; `during(i)` runs before message i (to inject a
   * fault mid-burst).
   */
  async burst(to: string, count: number, during?: (i: number) => void | Promise<void>, from = 0): Promise<void> {
    const socket = this.raw.socket;
    const domain = this.raw.domain;
    let batch = "";
    for (let i = from; i < count; i++) {
      if (during) await during(i);
      this.accounting.sent(`f${i}`);
      batch += burstMessage(domain, to, i);
      if (batch.length >= 16_384 || i === count - 1) {
        const ok = socket.write(batch);
        batch = "";
        if (!ok && !socket.destroyed) await new Promise<void>((resolve) => {
          const done = () => {
            socket.off("drain", done);
            socket.off("close", done);
            resolve();
          };
          socket.on("drain", done);
          socket.on("close", done);
        });
      }
    }
  }

  close(): void {
    this.raw.close();
  }
}
