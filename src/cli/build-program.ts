/**
 * Builds the commander program from the command registry: global options, one subcommand per
 * {@link CommandSpec} (two-word names under a group), `--help` on each. Usage errors throw
 * (exitOverride) so the shell can map them to exit code 2.
 */
import { Command, Option } from 'commander';
import type { CliIo } from './command-context.js';
import { addGlobalOptions } from './config-flags.js';
import { COMMAND_GROUPS, COMMANDS, type CommandSpec, type OptionSpec } from './registry.js';

/** Called with the matched command once argv has parsed. */
export type CommandRunner = (spec: CommandSpec, command: Command) => Promise<void>;

function groupOf(program: Command, name: string): Command {
  const existing = program.commands.find((c) => c.name() === name);
  if (existing !== undefined) return existing;
  return program.command(name).description(COMMAND_GROUPS[name] ?? name);
}

function toOption(spec: OptionSpec): Option {
  const option = new Option(spec.flags, spec.description);
  if (spec.parse !== undefined) option.argParser(spec.parse);
  if (spec.defaultValue !== undefined) option.default(spec.defaultValue);
  return option;
}

/** The handler's options object: declared options only, booleans `false` when absent, renamed by `key`. */
export function handlerOptions(spec: CommandSpec, command: Command): Record<string, unknown> {
  const parsed = command.opts();
  const out: Record<string, unknown> = {};
  for (const o of spec.options) {
    const option = new Option(o.flags);
    const value = parsed[option.attributeName()];
    out[o.key ?? option.attributeName()] = option.isBoolean() ? value === true : value;
  }
  return out;
}

/** The `net-sync` program, writing help and usage errors to `io`. */
export function buildProgram(io: CliIo, run: CommandRunner): Command {
  const program = new Command('net-sync')
    .description('Sidecar bridging libp2p gossip (intent) and NATS JetStream (commitment), nothing lost in between.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) })
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)');
  addGlobalOptions(program);
  for (const spec of COMMANDS) {
    const words = spec.name.split(' ');
    const parent = words.length > 1 ? groupOf(program, words[0] as string) : program;
    const command = parent.command(words[words.length - 1] as string).description(spec.summary);
    for (const o of spec.options) command.addOption(toOption(o));
    if (spec.help !== undefined) command.addHelpText('after', spec.help);
    command.action(async (_opts: unknown, self: Command) => run(spec, self));
  }
  return program;
}
