import { createServer, type Server } from "node:net";
import {
  type Clock,
  toDomainOf,
  systemClock,
  type EventBus,
  type LocalDelivery,
  type Logger,
  type Router,
  type S2sConfig,
  type Service,
  type ServiceListenerConfig,
  type StreamParserFactory,
  type XmlElement,
} from "../../core/index.js";
import { ComponentStream, type ComponentRegistry } from "./component-stream.js";

/** The `[[listen.service]]` listeners, the registry of connected components, and delivery to them. */
export class ComponentsService implements Service, LocalDelivery, ComponentRegistry {
  readonly name = "components";
  readonly #connected = new Map<string, ComponentStream>();
  readonly #all = new Set<ComponentStream>();
  readonly #servers: Server[] = [];
  readonly #hosts: ReadonlySet<string>;

  constructor(
    private readonly config: S2sConfig,
    private readonly parserFactory: StreamParserFactory,
    private readonly router: () => Router,
    private readonly logger: Logger,
    private readonly events: EventBus,
    private readonly clock: Clock = systemClock,
  ) {
    this.#hosts = new Set(config.general.hosts);
  }

  servesDomain(domain: string): boolean {
    return this.#connected.has(domain);
  }

  deliver(stanza: XmlElement): boolean {
    const domain = toDomainOf(stanza);
    const component = domain === undefined ? undefined : this.#connected.get(domain);
    if (!component) return false;
    component.send(stanza);
    return true;
  }

  /**
   * LocalDelivery.congestion: the component serving `stanza`'s address does not read fast
   * enough. Another node of a cluster then withholds its acknowledgement until the component's
   * socket drains (docs/cluster.md, backpressure); inbound S2S streams do not ask (see there).
   */
  congestion(stanza: XmlElement): Promise<void> | undefined {
    const domain = toDomainOf(stanza);
    return domain === undefined ? undefined : this.#connected.get(domain)?.backpressure();
  }

  claim(domain: string, stream: ComponentStream): boolean {
    if (this.#hosts.has(domain)) return false;
    const existing = this.#connected.get(domain);
    if (existing) {
      const listener = this.#listenerOf(stream);
      if (listener?.conflictBehaviour !== "kick_old") return false;
      // kick_old: the newcomer wins, the old connection is told why.
      this.#connected.delete(domain);
      existing.fail("conflict", "replaced by a new connection");
    }
    this.#connected.set(domain, stream);
    return true;
  }

  release(domain: string, stream: ComponentStream): void {
    if (this.#connected.get(domain) === stream) this.#connected.delete(domain);
  }

  #listeners = new Map<ComponentStream, ServiceListenerConfig>();

  #listenerOf(stream: ComponentStream): ServiceListenerConfig | undefined {
    return this.#listeners.get(stream);
  }

  async start(): Promise<void> {
    for (const listener of this.config.listen.service) {
      const server = createServer({ noDelay: true }, (socket) => {
        socket.on("error", () => {});
        const stream = new ComponentStream(socket, listener, this.parserFactory, this, this.router, this.logger, this.events, this.clock);
        this.#all.add(stream);
        this.#listeners.set(stream, listener);
        socket.once("close", () => {
          this.#all.delete(stream);
          this.#listeners.delete(stream);
        });
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(listener.port, listener.ipAddress, () => {
          server.off("error", reject);
          resolve();
        });
      });
      this.#servers.push(server);
      const a = server.address();
      const port = typeof a === "object" && a ? a.port : listener.port;
      this.logger.info({ what: "listening", kind: "service", address: listener.ipAddress, port });
      this.events.emit({ type: "listening", kind: "service", address: listener.ipAddress, port });
    }
  }

  /** Bound ports, in config order (for tests using port 0). */
  addresses(): Array<{ address: string; port: number }> {
    return this.#servers.map((s) => {
      const a = s.address();
      return typeof a === "object" && a ? { address: a.address, port: a.port } : { address: "", port: 0 };
    });
  }

  async stop(condition: string): Promise<void> {
    for (const server of this.#servers) server.close();
    this.#servers.length = 0;
    for (const stream of this.#all) stream.fail(condition, "server is shutting down");
  }
}
