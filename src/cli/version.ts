// The version `ocilayout --version` prints. A constant rather than package.json read at run time:
// the bundled CLI's yargs looks for package.json from the current directory, so an installed CLI
// printed "unknown" (or the version of whatever project it ran in), and a single executable has no
// package.json at all. test/cli/version.test.ts keeps it equal to package.json's version.
export const VERSION = '0.1.0';
