/** ACS faults (being built). */
import type { Strikes } from "./fault-strike.js";

/** Strikes of the ACS faults. */
export const ACS_STRIKES: Strikes<"acs-change"> = {
  "acs-change": () => {
    throw new Error("acs-change: not built yet");
  },
};
