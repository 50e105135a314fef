import { describe } from 'vitest';
import { storeConformance } from './common.case.ts';
import { storeKinds } from './stores.ts';

for (const kind of storeKinds) describe(`${kind.name} stores`, () => storeConformance(kind));
