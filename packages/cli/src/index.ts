// The `concord` command line as a function (the bin is dist/cli.js): for tests and for tools that run
// commands in-process.
export { type CliIo, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, runCli } from "./cli.js";
