/**
 * The stream_management plugin: its options, its place in the `sm` slot (on by default,
 * `enabled = false` turns XEP-0198 off), and what it provides. The protocol over real sockets is in
 * test/sm/ (on the wire, a link cut mid-burst, a peer killed mid-burst).
 */
import "reflect-metadata";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isConfigError, STREAM_MANAGEMENT, type StreamManagementSettings } from "../../core/index.js";
import { compose } from "../../core/server/compose.js";
import { createLogger } from "../../core/logging/logger.js";
import { systemClock } from "../../core/clock/clock.js";
import { EventBus } from "../../core/events/events.js";
import { loadPluginsFor, twoHostConfig } from "../../test/helpers/plugins.js";
import plugin from "./index.js";
import { parseSmOptions, SM_DEFAULTS } from "./options.js";

const config = twoHostConfig;

describe("stream_management plugin", () => {
  it("rejects bad options, each with its path and what was expected", async () => {
    await assert.rejects(loadPluginsFor(config({ stream_management: { resume_windw: 30, ack_every: 0, max_resumable: "many", resume_window: 3601 } })), (err: unknown) => {
      assert.ok(isConfigError(err), String(err));
      assert.deepEqual(err.problems, [
        'plugins.stream_management.resume_windw: unknown option (got 30, expected resume_window, ack_every, max_resumable; did you mean "resume_window"?)',
        "plugins.stream_management.ack_every: expected an integer from 1 to 100000 stanzas (got 0, expected e.g. 100)",
        'plugins.stream_management.max_resumable: expected an integer from 1 to 1000000 sessions (got "many", expected e.g. 10000)',
        "plugins.stream_management.resume_window: expected an integer from 1 to 3600 seconds (got 3601, expected e.g. 60)",
      ]);
      return true;
    });
  });

  it("reads its options into settings (seconds to ms), defaults for the rest", () => {
    assert.deepEqual(parseSmOptions({}), { options: SM_DEFAULTS });
    assert.deepEqual(parseSmOptions({ resume_window: 5, ack_every: 10 }), { options: { resumeWindowMs: 5000, ackEvery: 10, maxResumable: 10_000 } });
  });

  it("fills the sm slot by default; enabled = false leaves it empty (XEP-0198 off)", async () => {
    assert.equal(plugin.name, "stream_management");
    assert.deepEqual(plugin.provides, [STREAM_MANAGEMENT]);
    assert.deepEqual((await loadPluginsFor(config())).slots.sm, ["stream_management"]);
    assert.deepEqual((await loadPluginsFor(config({ stream_management: { enabled: false } }))).slots.sm, []);
    assert.deepEqual((await loadPluginsFor(config({ sm: [] }))).slots.sm, []);
  });

  it("provides its settings to the server's container", async () => {
    const { container } = await compose({ config: config({ stream_management: { resume_window: 7 } }), logger: createLogger("silent"), clock: systemClock, events: new EventBus() }, "plugins");
    const settings: StreamManagementSettings[] = container.resolveAll(STREAM_MANAGEMENT);
    assert.deepEqual(settings, [{ ...SM_DEFAULTS, resumeWindowMs: 7000 }]);
  });
});
