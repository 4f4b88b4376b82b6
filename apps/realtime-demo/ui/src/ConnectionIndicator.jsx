const LABELS = {
  connecting: () => 'connecting…',
  live: () => 'live',
  reconnecting: () => 'reconnecting…',
  resumed: (missed) => `resumed · ${missed} missed`,
};

// The EventSource's state as a small pill; data-state is for the test.
export default function ConnectionIndicator({ state, missed }) {
  return (
    <span className={`indicator ${state}`} data-testid="indicator" data-state={state}>
      <span className="dot" />
      {LABELS[state](missed)}
    </span>
  );
}
