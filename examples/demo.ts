/**
 * `npm run demo`: the failures ridethrough exists for, seven scenarios, each reproduced against
 * local stand-ins and ridden through, one after the other, with a summary table at the end.
 *
 * - `npm run demo` runs all seven; `npm run demo -- <name> [<name>...]` runs the ones named.
 * - On a terminal each scenario has a live progress line; piped, it prints plain lines.
 * - Exit code: 0 when every scenario ended as expected, 1 when one did not, 2 for an unknown
 *   name, 130 when interrupted with Ctrl-C.
 */
import * as apiOutage from './api-outage.js';
import * as certRotation from './cert-rotation.js';
import * as gatedRotation from './gated-rotation.js';
import * as logStream from './log-stream.js';
import * as offlineStartup from './offline-startup.js';
import * as servingCertRotation from './serving-cert-rotation.js';
import { runMain } from './support/runner.js';
import type { Scenario } from './support/scenario.js';
import * as tokenRefresher from './token-refresher.js';

/** Every scenario, in the order the demo runs them. */
const scenarios: readonly Scenario[] = [
  certRotation,
  tokenRefresher,
  offlineStartup,
  logStream,
  gatedRotation,
  apiOutage,
  servingCertRotation,
].map(({ name, title, run }) => ({ name, title, run }));

/** The scenarios named on the command line (all when none is), or the names that are unknown. */
function select(names: readonly string[]): { chosen: Scenario[]; unknown: string[] } {
  if (names.length === 0) return { chosen: [...scenarios], unknown: [] };
  const byName = new Map(scenarios.map((s) => [s.name, s]));
  const unknown = names.filter((n) => !byName.has(n));
  return { chosen: names.flatMap((n) => byName.get(n) ?? []), unknown };
}

const { chosen, unknown } = select(process.argv.slice(2));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown scenario${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}\n` +
      `usage: npm run demo [-- <name>...]\nscenarios:\n${scenarios.map((s) => `  ${s.name.padEnd(22)} ${s.title}`).join('\n')}\n`,
  );
  process.exitCode = 2;
} else {
  await runMain(chosen);
}
