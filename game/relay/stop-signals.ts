// How the relay's processes (npm run game, npm run replay) end: on SIGINT, SIGTERM or SIGHUP, and
// when the process that started them goes away (run through npm, a signal to npm ends the shell
// in between but not this process).
export function stopOnSignals(stop: () => void): void {
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', stop);
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop();
  }, 500).unref();
}
