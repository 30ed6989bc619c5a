/**
 * Prosody in dialback mode (P-db: STARTTLS required, s2s_secure_auth = false, not trusting our
 * CA) federates with ours in use_starttls = optional and required, both ways, authenticated with
 * Server Dialback (XEP-0220) over TLS. Runs inside the interop world (run.ts).
 */
import { federationCell } from "./world.js";

federationCell("opt", "dialback");
federationCell("req", "dialback");
