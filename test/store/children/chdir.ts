// A child for test/store/paths.test.ts (process.chdir is not allowed in a test worker): opens the stores by a
// relative path in one directory, then appends and closes from another.
import { openStores } from '../../../src/store/open.ts';

const [opened, later] = process.argv.slice(2) as [string, string];
process.chdir(opened);
const stores = await openStores({ path: 'rel.db', env: {} });
process.chdir(later);
await stores.audit.append({ type: 'result.ignored', at: 1, sessionId: 's', callId: 'c', reason: 'r' });
// The checkpointer thread opens the file by name once it has started.
await new Promise((resolve) => setTimeout(resolve, 300));
await stores.close();
