/** Where the shared topology fixtures are: `../shared/fixtures/topologies` beside the repository. */
import { join } from "node:path";

/** The fixture folder, relative to this file (a CI clone has `shared/` beside it too). */
export const FIXTURES = join(import.meta.dirname, "..", "..", "..", "shared", "fixtures", "topologies");
