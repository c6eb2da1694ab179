// gridgov citizens' pages: a voice recording as a WAV (16 kHz, mono, 16-bit PCM), which the
// upload API accepts. MediaRecorder is not used: Chromium gives WebM/Opus, which the platform
// refuses, and WeChat's X5 webview has no reliable one. The samples are taken with an
// AudioWorklet (voice-worklet.js, a file of its own since the CSP allows no inline or blob
// scripts) or, in old webviews, with a ScriptProcessorNode.
//
//   const rec = await startRecording(60);   // call it from a tap: audio starts on a gesture
//   rec.onTick = (s) => { timer.textContent = s; };
//   const blob = await rec.stop();           // or rec.ended, which also settles on auto-stop

const RATE = 16000;
const WORKLET = new URL("voice-worklet.js", import.meta.url).href;

export async function startRecording(maxSeconds = 60) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error("no microphone access here (needs HTTPS and a recent browser)");
  }
  const Context = window.AudioContext || window.webkitAudioContext;
  // Made before the permission prompt, still inside the user's tap: some webviews only let
  // an AudioContext run when it is made (or resumed) by a gesture.
  const ctx = new Context();
  ctx.resume().catch(() => {}); // not awaited: without the gesture it may never settle
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
    });
    return await record(ctx, stream, maxSeconds);
  } catch (e) {
    release(ctx, stream);
    throw e;
  }
}

async function record(ctx, stream, maxSeconds) {
  const rate = Math.min(RATE, ctx.sampleRate); // never upsampled
  const limit = Math.round(maxSeconds * rate);
  const take = downsampler(ctx.sampleRate, rate);
  const chunks = []; // Int16Array pieces at `rate`
  let count = 0;
  let done = false;
  let settle;
  const ended = new Promise((resolve, reject) => (settle = { resolve, reject }));
  ended.catch(() => {}); // a cancel nobody waits for is no unhandled rejection
  const recorder = {
    onTick: null, // set to (seconds) => …; called at 1, 2, 3… seconds recorded
    ended, // Promise<Blob>: settles when the recording ends, by stop(), auto-stop or cancel()
    rate,
    get seconds() {
      return count / rate;
    },
    stop() {
      finish(true);
      return ended;
    },
    cancel() {
      finish(false);
    },
  };

  const source = ctx.createMediaStreamSource(stream);
  const tap = await sampleTap(ctx, (input) => {
    if (done) return;
    let pcm = take(input);
    if (count + pcm.length >= limit) pcm = pcm.subarray(0, limit - count);
    const before = Math.floor(count / rate);
    chunks.push(pcm);
    count += pcm.length;
    const seconds = Math.floor(count / rate);
    if (seconds > before && recorder.onTick) recorder.onTick(seconds);
    if (count >= limit) finish(true);
  });
  source.connect(tap);
  tap.connect(ctx.destination); // a node that reaches no output is not run; it outputs silence
  stream.getTracks().forEach((t) => t.addEventListener("ended", () => finish(true)));

  function finish(keep) {
    if (done) return;
    done = true;
    source.disconnect();
    tap.disconnect();
    release(ctx, stream);
    if (keep) settle.resolve(wav(chunks, count, rate));
    else settle.reject(new DOMException("recording cancelled", "AbortError"));
  }
  return recorder;
}

// Stops the microphone (the browser's "recording" mark goes away) and the audio engine.
function release(ctx, stream) {
  if (stream) stream.getTracks().forEach((t) => t.stop());
  if (ctx.state !== "closed") ctx.close().catch(() => {});
}

// Calls onSamples(Float32Array) with the microphone's samples, down-mixed to mono by the engine.
async function sampleTap(ctx, onSamples) {
  const mono = { channelCount: 1, channelCountMode: "explicit", channelInterpretation: "speakers" };
  if (ctx.audioWorklet && typeof AudioWorkletNode === "function") {
    try {
      await ctx.audioWorklet.addModule(WORKLET);
      const node = new AudioWorkletNode(ctx, "gridgov-voice-tap", { ...mono, outputChannelCount: [1] });
      node.port.onmessage = (e) => onSamples(e.data);
      return node;
    } catch (e) {
      // fall back to the script processor (deprecated, but in every webview)
    }
  }
  const node = ctx.createScriptProcessor(4096, 1, 1);
  node.onaudioprocess = (e) => onSamples(e.inputBuffer.getChannelData(0));
  return node;
}

// Turns Float32 samples at `from` Hz into Int16 at `to` Hz, across calls: each output sample is
// the mean of the input samples it covers (a plain low-pass that keeps speech clear).
function downsampler(from, to) {
  const step = from / to;
  let sum = 0;
  let n = 0;
  let seen = 0; // input samples so far
  let next = step; // where the current output sample ends, in input samples
  return (input) => {
    const out = new Int16Array(Math.ceil(input.length / step) + 1);
    let k = 0;
    for (let i = 0; i < input.length; i++) {
      sum += input[i];
      n += 1;
      seen += 1;
      if (seen >= next) {
        const s = Math.max(-1, Math.min(1, sum / n));
        out[k++] = s < 0 ? s * 0x8000 : s * 0x7fff;
        sum = 0;
        n = 0;
        next += step;
      }
    }
    return out.subarray(0, k);
  };
}

// A canonical 44-byte WAV header and the samples.
function wav(chunks, count, rate) {
  const head = new DataView(new ArrayBuffer(44));
  const text = (at, s) => [...s].forEach((c, i) => head.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF");
  head.setUint32(4, 36 + count * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  head.setUint32(16, 16, true); // fmt chunk size
  head.setUint16(20, 1, true); // PCM
  head.setUint16(22, 1, true); // mono
  head.setUint32(24, rate, true);
  head.setUint32(28, rate * 2, true); // bytes per second
  head.setUint16(32, 2, true); // bytes per frame
  head.setUint16(34, 16, true); // bits per sample
  text(36, "data");
  head.setUint32(40, count * 2, true);
  // Int16Array is in the platform's byte order: little-endian on every phone and PC.
  return new Blob([head, ...chunks], { type: "audio/wav" });
}
