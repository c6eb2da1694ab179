// gridgov citizens' pages: the AudioWorklet half of voice.js. Runs on the audio thread and hands
// the microphone's samples (already mono: the node has one input channel) to the page in pieces
// of BATCH samples, so the page gets ~40 messages a second rather than one per 128-sample block.
const BATCH = 1024;

class VoiceTap extends AudioWorkletProcessor {
  constructor() {
    super();
    this.buffer = new Float32Array(BATCH);
    this.filled = 0;
  }

  process(inputs) {
    const samples = inputs[0] && inputs[0][0]; // absent while the source is not connected
    if (samples) {
      for (let i = 0; i < samples.length; i++) {
        this.buffer[this.filled++] = samples[i];
        if (this.filled === BATCH) {
          this.port.postMessage(this.buffer, [this.buffer.buffer]); // moved, not copied
          this.buffer = new Float32Array(BATCH);
          this.filled = 0;
        }
      }
    }
    return true; // keep running until the page disconnects the node
  }
}

registerProcessor("gridgov-voice-tap", VoiceTap);
