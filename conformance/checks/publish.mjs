export function addPublishChecks() {}
