// Defaults of a cron job's options, apart from the parser that checks them: a command that only
// shows them (help, `fleet audit --cap`) does not load the cron parser.
export const JOB_DEFAULTS = { window: '23:00-06:00', slot: '12m', cap: 15, scripts: 'daily,weekly,monthly', cronUser: 'root' } as const;
