import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { freePort, freePorts, reservePorts } from "../../testing/ports.js";

// CI once failed because two reservations on one address returned the same port: the kernel may
// repeat an ephemeral port once the socket that held it is closed.
describe("test ports (xmpp-s2s/testing)", () => {
  it("never hands out the same port twice on one address, across many reservations", async () => {
    const ip = "127.0.0.231";
    const ports: number[] = [];
    for (let i = 0; i < 100; i++) {
      const reserved = await reservePorts(ip);
      ports.push(reserved.s2sPort, reserved.servicePort, await freePort(ip));
    }
    ports.push(...(await freePorts(ip, 50)));
    assert.equal(ports.length, 350);
    assert.equal(new Set(ports).size, ports.length);
    assert.ok(ports.every((port) => port > 0));
  });
});
