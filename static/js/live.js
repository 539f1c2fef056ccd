// live.js: one socket per tab. (filled in by the live layer work)
