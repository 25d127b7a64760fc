import { criticalPath, SCENARIOS } from "../../tools/critical-path";

test("the number of sequential stages does not grow with the worker count", async () => {
  const results = [];
  for (const [label, stack, config] of SCENARIOS) results.push(await criticalPath(label, stack, config));
  const [dev, prod, dev10, prod10] = results;
  expect(dev10.machines).toBeGreaterThan(dev.machines + 15);
  expect(dev10.toServing).toBe(dev.toServing);
  expect(dev10.toFirstModel).toBe(dev.toFirstModel);
  expect(prod10.toFirstModel).toBe(prod.toFirstModel);
  // and the chain is short in absolute terms: network, bastion, one node's bootstrap, swarm, deploy, promotion
  expect(dev.toFirstModel).toBeLessThanOrEqual(25);
}, 180000);
