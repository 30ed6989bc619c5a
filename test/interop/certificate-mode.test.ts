/**
 * Prosody in certificate mode (P-cert: STARTTLS + SASL EXTERNAL only, s2s_secure_auth = true,
 * trusting the test CA) federates with ours in use_starttls = required_trusted (trusting the same
 * CA), both ways, every stream authenticated with SASL EXTERNAL (XEP-0178). Runs inside the
 * interop world (run.ts).
 */
import { federationCell } from "./world.js";

federationCell("trust", "sasl_external");
