// A stock tus client (tus-js-client, from npm) uploading one file as any tus client would, for
// the server's tests (`uploads.rs`). It resumes an upload it started before (the URL kept in a
// file by tus-js-client's own FileUrlStorage) and writes one JSON line per step to stdout.
// From the environment: TUS_ENDPOINT, TUS_TOKEN, TUS_FILE, TUS_PROJECT, TUS_SHA256 (optional),
// TUS_URL_STORAGE, TUS_CHUNK (bytes per PATCH), TUS_FREEZE_AT (optional: once the server has
// acknowledged this many bytes, stop dead, so the test can kill the process there), and
// UI_MODULES (the UI's node_modules, where `cargo xtask test` installs tus-js-client).
"use strict";
const path = require("node:path");
const fs = require("node:fs");
const tus = require(path.join(process.env.UI_MODULES, "tus-js-client"));

// Synchronous: a frozen or killed process must not lose what it said.
const say = (line) => fs.writeSync(1, JSON.stringify(line) + "\n");
const file = process.env.TUS_FILE;
const size = fs.statSync(file).size;
const metadata = { project_id: process.env.TUS_PROJECT, filename: path.basename(file) };
if (process.env.TUS_SHA256) metadata.sha256 = process.env.TUS_SHA256;
const freezeAt = process.env.TUS_FREEZE_AT ? Number(process.env.TUS_FREEZE_AT) : Infinity;

const upload = new tus.Upload(fs.createReadStream(file), {
  endpoint: process.env.TUS_ENDPOINT,
  headers: { Authorization: `Bearer ${process.env.TUS_TOKEN}` },
  chunkSize: Number(process.env.TUS_CHUNK),
  metadata,
  urlStorage: new tus.FileUrlStorage(process.env.TUS_URL_STORAGE),
  // No retries: a refusal fails the upload, as the issue saw it (with retries a 409 is hidden by
  // tus-js-client's own HEAD and resync).
  retryDelays: null,
  onChunkComplete: (_chunk, accepted, total) => {
    say({ accepted, total });
    if (accepted >= freezeAt && accepted < total) {
      say({ frozen: accepted, url: upload.url });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    }
  },
  onError: (e) => {
    say({ error: String(e) });
    process.exit(1);
  },
  onSuccess: () => {
    say({ done: upload.url });
    process.exit(0);
  },
});

upload.findPreviousUploads().then((previous) => {
  if (previous.length > 0) {
    say({ resuming: previous[0].uploadUrl });
    upload.resumeFromPreviousUpload(previous[0]);
  }
  upload.start();
});
