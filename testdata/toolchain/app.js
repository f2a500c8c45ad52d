// The toolchain app (JavaScript, componentize-js: a wasi:cli component), as the C, Rust
// and AssemblyScript ones, for tests/integration/toolchains.sh: its arguments and
// environment, the clock, random, and its exit (WASI 0.2's exit is ok or err: a last
// argument that is a number other than 0 makes it err, exit code 1). Files are not read:
// the world (wit/) imports no wasi:filesystem.
import { getArguments, getEnvironment } from 'wasi:cli/environment@0.2.3';
import { exit } from 'wasi:cli/exit@0.2.3';

export const run = {
  run() {
    const args = getArguments();
    const env = new Map(getEnvironment());
    console.log('argv0=' + args[0]);
    console.log('args=' + args.slice(1).join(','));
    console.log('env=' + (env.get('TOOLCHAIN_ENV') ?? 'unset'));
    console.log('clock=' + (Date.now() > 1600000000000 ? 'ok' : 'wrong'));
    const r = new Uint8Array(16);
    crypto.getRandomValues(r);
    console.log('random=' + (r.some((b) => b) ? 'ok' : 'none'));
    const last = args.length > 1 ? args[args.length - 1] : '';
    if (/^[0-9]+$/.test(last) && last !== '0') exit({ tag: 'err', val: undefined });
  },
};
