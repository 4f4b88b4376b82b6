export function addWsChecks() {}
