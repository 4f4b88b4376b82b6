export function addSeedChecks() {}
