// A second process for test/store/multiprocess.test.ts: answers or consumes an approval in the shared database.
import { SqliteApprovalStore } from '../../../src/store/sqlite/approvals.ts';

const [path, action, requestId, hash] = process.argv.slice(2) as [string, string, string, string];
const approvals = new SqliteApprovalStore(path);
const out =
  action === 'approve'
    ? await approvals.answer(requestId, { approved: true, by: 'other-process' }, Date.now())
    : await approvals.consume({ requestId, hash }, Date.now());
await approvals.close();
process.stdout.write(JSON.stringify(out));
