import * as fs from 'node:fs';
import * as path from 'node:path';
import { format } from 'node:util';
import Mocha from 'mocha';

/**
 * The extension host's entry to the suite (extensionTestsPath): runs every compiled *.test.js
 * beside this file with mocha's TDD interface, activation first (it checks that nothing has
 * activated the extension yet), and rejects when a test failed, which makes the host exit
 * non-zero. Environment: EXTHOST_GREP runs only the tests whose title matches; EXTHOST_REPORT
 * names a file that receives a copy of the report (the code-server runner reads it).
 */
export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', reporter: 'spec', color: !process.env.EXTHOST_REPORT, timeout: 60_000 });
  if (process.env.EXTHOST_GREP) mocha.grep(process.env.EXTHOST_GREP);
  const report = process.env.EXTHOST_REPORT;
  if (report) {
    fs.writeFileSync(report, '');
    const base = Mocha.reporters.Base as unknown as { consoleLog: (...args: unknown[]) => void };
    const log = base.consoleLog;
    base.consoleLog = (...args: unknown[]) => {
      log(...args);
      fs.appendFileSync(report, `${format(...args)}\n`);
    };
  }
  const first = ['activation.test.js'];
  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.test.js'))
    .sort((a, b) => Number(!first.includes(a)) - Number(!first.includes(b)) || a.localeCompare(b));
  for (const f of files) mocha.addFile(path.join(__dirname, f));
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} extension-host test${failures > 1 ? 's' : ''} failed`)) : resolve()));
  });
}
