import { addressOf, reservePorts, startNode, type TestNode } from "../helpers/servers.js";
import { AccountedComponent } from "./burst.js";
import { TcpProxy } from "./tcp-proxy.js";

/**
 * component -> A -> S2S -> B (echo) -> S2S -> A -> component, both S2S directions through a TCP
 * relay on loopback (tcp-proxy.ts), so a test can silence or reset the links while both servers
 * live on.
 */
export interface RelayedPair {
  readonly a: TestNode;
  readonly b: TestNode;
  /** Relays A's outbound stream to B, and B's to A. */
  readonly toB: TcpProxy;
  readonly toA: TcpProxy;
  readonly component: AccountedComponent;
  stop(): Promise<void>;
}

export async function startRelayedPair(ip: { readonly a: string; readonly b: string; readonly proxy: string }, secret: string): Promise<RelayedPair> {
  const portsA = await reservePorts(ip.a);
  const portsB = await reservePorts(ip.b);
  const toB = await TcpProxy.start(ip.proxy, { host: ip.b, port: portsB.s2sPort });
  const toA = await TcpProxy.start(ip.proxy, { host: ip.a, port: portsA.s2sPort });
  const a = await startNode({ hosts: ["a.example"], ip: ip.a, componentPassword: secret, s2s: { address: [addressOf({ ip: ip.proxy, s2sPort: toB.port }, "b.example")] } }, portsA);
  const b = await startNode({ hosts: ["b.example"], ip: ip.b, s2s: { address: ["a.example", "comp.a.example"].map((d) => addressOf({ ip: ip.proxy, s2sPort: toA.port }, d)) } }, portsB);
  const component = await AccountedComponent.connect(ip.a, a.servicePort!, "comp.a.example", secret);
  return {
    a,
    b,
    toB,
    toA,
    component,
    async stop() {
      component.close();
      await a.stop();
      await b.stop();
      await toA.close();
      await toB.close();
    },
  };
}
