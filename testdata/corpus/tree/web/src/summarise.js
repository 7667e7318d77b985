import OpenAI from "openai";

// summariser for support tickets
const client = new OpenAI({
  apiKey: "sk-proj-M7HMDu5YoG_giOQ5rkFEaGQz1b5Z_ShVmrKuCrQDT3" +
    "BlbkFJy-UhHe67C3HMVY5eLmqtCZE4bnAPHIF3r0kWyQ-a",
});

export async function summarise(text) {
  const r = await client.responses.create({ model: "gpt-4.1-mini", input: text });
  return r.output_text;
}
