// Placeholder until the local stack lands: starts nothing.
export default async function globalSetup(): Promise<void> {}
