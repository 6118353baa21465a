"""Writes the CLIP tokenizer fixtures of `Tests/NetworksTests/Fixtures/`.

Run from the repository root:

    /work/venv-ref/bin/python Tests/Reference/make_tokenizer_fixtures.py

What it writes:

* `tokenizer-vocab/vocab.json` and `tokenizer-vocab/merges.txt`: the real CLIP vocabulary, built from
  open-clip-torch's `bpe_simple_vocab_16e6.txt.gz` exactly as OpenAI's `SimpleTokenizer` builds it
  (256 byte characters, the same with `</w>`, one token per merge, then `<|startoftext|>` and
  `<|endoftext|>`: 49408 tokens; 48894 merges). It is stored once; the tests copy it into each folder.
* `tokenizer-<variant>/`: the per-variant `tokenizer_config.json` (and `special_tokens_map.json` where the
  variant has one), laid out as in real diffusers folders:
  - `sd1`: runwayml/stable-diffusion-v1-5 (legacy `__type: AddedToken` objects, pad `<|endoftext|>`);
  - `sd2`: stabilityai/stable-diffusion-2-1-base (the config says pad `<|endoftext|>`, the
    special-tokens map says `!`; transformers takes `!`);
  - `modern`: the format transformers >= 4.34 saves (`added_tokens_decoder`, SDXL `tokenizer_2`-like);
  - `custom`: a pad token outside the vocabulary, lstrip/rstrip flags, normalised and raw added tokens
    with upper-case content, `additional_special_tokens` and `model_max_length` 20;
  - `saved`: what transformers 5 `save_pretrained` writes for `sd2` (`tokenizer.json` and a config with
    no `added_tokens_decoder`); `tokenizer.template.json` is that `tokenizer.json` with its vocabulary
    and merges emptied (the test fills them from `tokenizer-vocab`).
* `tokenizer-cases.json`: for every prompt and variant, the ids transformers' `CLIPTokenizer` returns the
  way diffusers calls it (`padding="max_length", max_length=model_max_length, truncation=True`) and the
  untruncated ids (`tokenizer(text).input_ids`), plus each variant's effective added tokens.

transformers 5 has a single `CLIPTokenizer` class (backed by the `tokenizers` library);
`CLIPTokenizerFast` is the same class, and the old ftfy-based Python tokenizer no longer exists. The
script checks that, and records for each prompt whether open_clip's `SimpleTokenizer` (the original
OpenAI tokenizer: ftfy, HTML unescaping) gives the same content ids, to document where they differ.
"""

import glob
import gzip
import json
import os
import shutil
import tempfile

import ftfy  # noqa: F401  (installed in the reference env; transformers 5 does not use it)
import transformers
from open_clip.tokenizer import SimpleTokenizer, bytes_to_unicode
from transformers import CLIPTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "NetworksTests", "Fixtures")


def build_vocabulary():
    path = glob.glob(os.path.join(os.path.dirname(__import__("open_clip").__file__), "bpe_simple_vocab_16e6.txt.gz"))[0]
    lines = gzip.open(path).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    for merge in merges:
        vocab.append("".join(merge))
    vocab.extend(["<|startoftext|>", "<|endoftext|>"])
    assert len(vocab) == 49408 and len(set(vocab)) == 49408 and len(merges) == 48894
    return {token: index for index, token in enumerate(vocab)}, merges


def legacy_token(content, typed):
    token = {"content": content, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}
    return {"__type": "AddedToken", **token} if typed else token


def legacy_config(name_or_path):
    return {
        "add_prefix_space": False,
        "bos_token": legacy_token("<|startoftext|>", True),
        "do_lower_case": True,
        "eos_token": legacy_token("<|endoftext|>", True),
        "errors": "replace",
        "model_max_length": 77,
        "name_or_path": name_or_path,
        "pad_token": "<|endoftext|>",
        "special_tokens_map_file": "./special_tokens_map.json",
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": legacy_token("<|endoftext|>", True),
    }


def legacy_map(pad):
    return {
        "bos_token": legacy_token("<|startoftext|>", False),
        "eos_token": legacy_token("<|endoftext|>", False),
        "pad_token": pad,
        "unk_token": legacy_token("<|endoftext|>", False),
    }


def decoder_entry(content, normalized, lstrip=False, rstrip=False):
    return {"content": content, "lstrip": lstrip, "normalized": normalized, "rstrip": rstrip,
            "single_word": False, "special": True}


VARIANTS = {
    "sd1": (legacy_config("runwayml/stable-diffusion-v1-5"), legacy_map("<|endoftext|>")),
    "sd2": (legacy_config("stabilityai/stable-diffusion-2-1-base"), legacy_map("!")),
    "modern": ({
        "add_prefix_space": False,
        "added_tokens_decoder": {
            "0": decoder_entry("!", False),
            "49406": decoder_entry("<|startoftext|>", True),
            "49407": decoder_entry("<|endoftext|>", False),
        },
        "bos_token": "<|startoftext|>",
        "clean_up_tokenization_spaces": True,
        "do_lower_case": True,
        "eos_token": "<|endoftext|>",
        "errors": "replace",
        "model_max_length": 77,
        "pad_token": "!",
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": "<|endoftext|>",
    }, None),
    "custom": ({
        "added_tokens_decoder": {
            "49407": decoder_entry("<|endoftext|>", False, lstrip=True, rstrip=True),
            "49408": decoder_entry("<pad>", True, lstrip=True),
            "49409": decoder_entry("<Sks>", True),
            "49410": decoder_entry("<Raw Token>", False),
        },
        "additional_special_tokens": ["<extra>", "dog"],
        "model_max_length": 20,
        "pad_token": "<pad>",
        "tokenizer_class": "CLIPTokenizer",
    }, None),
}

LONG = ("a highly detailed matte painting of a medieval castle on a cliff above a stormy sea at sunset, "
        "dramatic lighting, volumetric clouds, trending on artstation, by greg rutkowski and alphonse mucha, "
        "octane render, 8k, ultra realistic, cinematic composition, golden hour, sharp focus, intricate details")

PROMPTS = [
    "",
    "a photo of a cat",
    "A Photo Of A CAT",
    "a red apple on a wooden table",
    "a photo of a dog, highly detailed, 4k",
    "1234",
    "pi is 3.14159",
    "the year 2024 and 1999!",
    "it's a dog's life",
    "IT'S THEY'RE WE'VE I'M YOU'LL HE'D DON'T",
    "'tis the season, y'all",
    "it\u2019s a \u201csmart\u201d quote",
    "hello, world!",
    "hello!! world!!!",
    "!!!???...",
    "wait... what?!",
    "(masterpiece:1.2), [best quality], {detailed}",
    "a_b-c+d=e/f\\g|h",
    "email me at someone@example.com or visit https://example.com/path?q=1&r=2",
    "#hashtag @mention $100 50% ^caret ~tilde `backtick`",
    "  leading and trailing spaces   ",
    "many     repeated      spaces",
    "tabs\tand\nnewlines\r\nhere",
    " \t\n ",
    "line one\n\nline two",
    "non\u00a0breaking\u2003em\u3000ideographic\u2028line\u0085next",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    "fish &amp; chips &lt;3 &quot;quoted&quot; &#39;x&#39;",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber",
    "cafe\u0301 decomposed accent",
    "stra\u00dfe GROSSE \u1e9e",
    "\u0130stanbul \u0131\u015f\u0131k",
    "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3 \u03c3\u03bf\u03c6\u03af\u03b1",
    "\u041c\u043e\u0441\u043a\u0432\u0430 \u0437\u0438\u043c\u043e\u0439, \u043a\u0440\u0430\u0441\u0438\u0432\u044b\u0439 \u0433\u043e\u0440\u043e\u0434",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 \u0661\u0662\u0663",
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
    "\u4e00\u53ea\u53ef\u7231\u7684\u732b\u5728\u82b1\u56ed\u91cc",
    "\u6771\u4eac\u30bf\u30ef\u30fc\u3068\u5bcc\u58eb\u5c71\u306e\u5199\u771f",
    "\ud55c\uad6d\uc5b4 \ubb38\uc7a5 \u1100\u1161\u11a8",
    "\u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e",
    "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
    "Ti\u1ebfng Vi\u1ec7t c\u00f3 d\u1ea5u",
    "\uff21\uff22\uff23 fullwidth \uff11\uff12\uff13",
    "\ufb01ne ligature and \u2460 circled \u00bd half \u2167 roman x\u00b2",
    "\U0001d400\U0001d401\U0001d402 math bold",
    "a cat \U0001f431 and a dog \U0001f436",
    "\U0001f600\U0001f602\U0001f923",
    "family \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 zwj",
    "flags \U0001f1fa\U0001f1f8 \U0001f1ef\U0001f1f5 \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "thumbs \U0001f44d\U0001f3fd skin tone",
    "keycap 1\ufe0f\u20e3 and \u2764\ufe0f heart",
    "control\u0000chars\u0007here\u001b",
    "sep\u001cfile\u001dgroup\u001erecord\u001funit\u000bvt\u000cff",
    "mongolian\u180evowel word\u2060joiner soft\u00adhyphen",
    "replacement \ufffd and private \ue000 use",
    "<|startoftext|>a photo<|endoftext|>",
    "foo<|endoftext|>bar <|endoftext|> baz",
    "<|ENDOFTEXT|> and <|StartOfText|> in caps",
    "<|endoftext|",
    "<pad> token <PAD> and x<pad>y",
    "a <Sks> dog and a <SKS> cat, <Raw Token> <raw token> <extra><EXTRA> hotdogs",
    "unbelievable antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 300,
    "supercalifragilisticexpialidocious" * 3 + " photographicallyunderwaterbioluminescentjellyfishcathedral",
    "\u01c5ungla \u01c8 \u01cb titlecase",
    "\u0301leading combining mark and n\u0303o",
    "a'b ''s '''ll it'S cats' 'quoted' don''t",
    "ab" * 40,
    "photorealistic, hyperrealistic, ultra-detailed, 8k uhd, dslr, soft lighting, high quality, film grain",
    LONG,
    LONG + ", " + LONG,
    " ".join(["cat"] * 75),
    " ".join(["cat"] * 76),
    " ".join(["cat"] * 18),
    " ".join(["cat"] * 19),
    "\u00c0 \u00c9 \u00ce \u00d5 \u00dc \u00c7 \u00d1 uppercase accents",
    "MiXeD CaSe WoRdS AnD NuMbErS 123ABC abc123",
    "3D render of a 2x2 grid, 16:9, 1920x1080, v1.5",
]


def main():
    assert transformers.__version__ == "5.24.0", transformers.__version__
    from transformers import CLIPTokenizerFast

    assert CLIPTokenizerFast is CLIPTokenizer, "expected one CLIPTokenizer class in transformers 5"
    vocab, merges = build_vocabulary()

    vocab_dir = os.path.join(FIXTURES, "tokenizer-vocab")
    os.makedirs(vocab_dir, exist_ok=True)
    with open(os.path.join(vocab_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(vocab_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for merge in merges:
            f.write(" ".join(merge) + "\n")

    variants = {}
    tokenizers = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, (config, special_map) in VARIANTS.items():
            fixture_dir = os.path.join(FIXTURES, f"tokenizer-{name}")
            os.makedirs(fixture_dir, exist_ok=True)
            with open(os.path.join(fixture_dir, "tokenizer_config.json"), "w") as f:
                json.dump(config, f, indent=2)
            if special_map is not None:
                with open(os.path.join(fixture_dir, "special_tokens_map.json"), "w") as f:
                    json.dump(special_map, f, indent=2)
            folder = os.path.join(scratch, name)
            shutil.copytree(fixture_dir, folder)
            for file in ("vocab.json", "merges.txt"):
                shutil.copy(os.path.join(vocab_dir, file), folder)
            tokenizer = CLIPTokenizer.from_pretrained(folder)
            tokenizers[name] = tokenizer
            if name == "sd2":
                # What transformers 5 `save_pretrained` writes: tokenizer.json + tokenizer_config.json.
                saved = os.path.join(scratch, "saved")
                tokenizer.save_pretrained(saved)
                assert sorted(os.listdir(saved)) == ["tokenizer.json", "tokenizer_config.json"]
                saved_dir = os.path.join(FIXTURES, "tokenizer-saved")
                os.makedirs(saved_dir, exist_ok=True)
                shutil.copy(os.path.join(saved, "tokenizer_config.json"), saved_dir)
                with open(os.path.join(saved, "tokenizer.json"), encoding="utf-8") as f:
                    saved_json = json.load(f)
                assert saved_json["model"]["vocab"] == vocab
                assert [tuple(m) for m in saved_json["model"]["merges"]] == merges
                # The vocabulary and merges are left out; the test puts tokenizer-vocab's back in.
                saved_json["model"]["vocab"] = {}
                saved_json["model"]["merges"] = []
                with open(os.path.join(saved_dir, "tokenizer.template.json"), "w", encoding="utf-8") as f:
                    json.dump(saved_json, f, indent=2, ensure_ascii=False)
                tokenizers["saved"] = CLIPTokenizer.from_pretrained(saved)
    for name, tokenizer in tokenizers.items():
        variants[name] = {
            "modelMaxLength": tokenizer.model_max_length,
            "bosTokenID": tokenizer.bos_token_id,
            "eosTokenID": tokenizer.eos_token_id,
            "padTokenID": tokenizer.pad_token_id,
            "padToken": tokenizer.pad_token,
            "addedTokens": [
                {"id": index, "content": token.content, "normalized": token.normalized,
                 "lstrip": token.lstrip, "rstrip": token.rstrip}
                for index, token in sorted(tokenizer.added_tokens_decoder.items())
            ],
        }

    # Sanity: the rebuilt vocabulary reproduces openai/clip-vit-large-patch14's known ids.
    sd1 = tokenizers["sd1"]
    assert sd1("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert sd1("a diagram").input_ids == [49406, 320, 22697, 49407]

    legacy = SimpleTokenizer()
    cases = []
    differing = 0
    for text in PROMPTS:
        case = {"text": text}
        for name, tokenizer in tokenizers.items():
            padded = tokenizer(text, padding="max_length", max_length=tokenizer.model_max_length,
                               truncation=True).input_ids
            untruncated = tokenizer(text).input_ids
            case[name] = {"ids": padded, "untruncatedIDs": untruncated}
        legacy_ids = legacy.encode(text)
        case["openCLIPMatchesSD1"] = legacy_ids == case["sd1"]["untruncatedIDs"][1:-1]
        differing += not case["openCLIPMatchesSD1"]
        cases.append(case)

    with open(os.path.join(FIXTURES, "tokenizer-cases.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "Tests/Reference/make_tokenizer_fixtures.py",
                   "transformers": transformers.__version__,
                   "variants": variants, "cases": cases}, f, ensure_ascii=True, separators=(",", ":"))
    print(f"{len(cases)} prompts; open_clip SimpleTokenizer differs from transformers (sd1) on {differing}:")
    for case in cases:
        if not case["openCLIPMatchesSD1"]:
            print("   ", repr(case["text"][:60]))


if __name__ == "__main__":
    main()
