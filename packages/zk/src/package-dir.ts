/** Locates an installed dependency's directory (several of them do not export package.json). */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { StrataError } from '@strata/primitives';

const req = createRequire(import.meta.url);

/** The directory holding `pkg`'s package.json. */
export function packageDir(pkg: string): string {
  let dir = dirname(req.resolve(pkg));
  for (let i = 0; i < 6; i++) {
    const f = join(dir, 'package.json');
    if (existsSync(f) && (JSON.parse(readFileSync(f, 'utf8')) as { name?: string }).name === pkg) return dir;
    dir = dirname(dir);
  }
  throw new StrataError('INTERNAL', `cannot locate the ${pkg} package`);
}

/** An installed dependency's version. */
export function packageVersion(pkg: string): string {
  return (JSON.parse(readFileSync(join(packageDir(pkg), 'package.json'), 'utf8')) as { version: string }).version;
}
