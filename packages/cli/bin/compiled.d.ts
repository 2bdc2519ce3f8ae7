/** The URL of packages/cli/dist/<name>.js when it is fresh (every source it was built from unchanged), else undefined. */
export function compiledEntry(name: string): string | undefined;
