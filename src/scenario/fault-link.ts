/** Link faults (being built). */
import type { Strikes } from "./fault-strike.js";

/** Strikes of the link faults. */
export const LINK_STRIKES: Strikes<"link-down" | "link-retrain" | "completion-timeout"> = {
  "link-down": () => {
    throw new Error("link-down: not built yet");
  },
  "link-retrain": () => {
    throw new Error("link-retrain: not built yet");
  },
  "completion-timeout": () => {
    throw new Error("completion-timeout: not built yet");
  },
};
