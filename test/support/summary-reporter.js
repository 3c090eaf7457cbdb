'use strict';
/**
 * Ends the jest run with one plain line, `jest: N passed, N failed, N skipped`, that CI log readers
 * understand without knowing jest's own summary format.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests, numFailedTests, numPendingTests, numTodoTests, numRuntimeErrorTestSuites } =
      results;
    const failed = numFailedTests + numRuntimeErrorTestSuites;
    const line = `jest: ${numPassedTests} passed, ${failed} failed, ${numPendingTests + numTodoTests} skipped`;
    process.stderr.write(`\n${line}\n`);
    // .ci/run repeats it as the very last line of the CI log.
    if (process.env.JEST_SUMMARY_FILE)
      require('node:fs').writeFileSync(process.env.JEST_SUMMARY_FILE, line + '\n');
  }
}
module.exports = SummaryReporter;
