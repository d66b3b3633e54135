#!/usr/bin/env node
/**
 * The `p2psim` command. The only module that touches the process, files and the terminal.
 * Exit codes: 0 clean, 1 a violation was found, 2 bad input or usage.
 */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { demoCommand } from "./demo-command.js";
import { packageVersion } from "./version.js";

const EXIT_BAD_INPUT = 2;

function parseSeed(value: string): number {
  const seed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(seed)) throw new InvalidArgumentError("expected a non-negative integer");
  return seed;
}

/** Builds the command tree; `exit` receives the exit code of the command that ran. */
export function buildProgram(print: (text: string) => void, exit: (code: number) => void): Command {
  const version = packageVersion();
  const program = new Command("p2psim")
    .description("Deterministic simulator of a PCI Express fabric and of peer-to-peer DMA on Linux")
    .version(version)
    .exitOverride()
    .configureOutput({ writeOut: (text) => print(text.trimEnd()) });
  program
    .command("demo", { isDefault: true })
    .description("run the built-in engine demonstration (the default until scenarios land)")
    .option("--seed <n>", "the run's seed", parseSeed, 1)
    .option("--json", "print the result as JSON", false)
    .option("--trace <file>", "write every trace event as JSON lines to FILE")
    .action((opts: { seed: number; json: boolean; trace?: string }) => {
      exit(demoCommand({ seed: opts.seed, json: opts.json, ...(opts.trace === undefined ? {} : { trace: opts.trace }) }, version, print));
    });
  return program;
}

function main(argv: readonly string[]): void {
  let code = 0;
  const program = buildProgram(
    (text) => process.stdout.write(`${text}\n`),
    (exitCode) => {
      code = exitCode;
    },
  );
  try {
    program.parse(argv as string[]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
      return;
    }
    throw error;
  }
  process.exitCode = code;
}

main(process.argv);
