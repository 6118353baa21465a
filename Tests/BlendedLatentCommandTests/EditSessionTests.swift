import BlendedLatent
import BlendedLatentCommand
import Foundation
import TensorCore
import Testing

@Suite("bld edit end to end with a fake editor: read → edit → paste back → write")
struct EditSessionTests {
  @Test("native-size image through an identity editor is written back bit for bit")
  func identityRoundTrip() throws {
    let folder = try ScratchFolder()
    let input = try folder.writeImage("in.png", width: 64, height: 48)
    let mask = try folder.writeMask(
      "mask.png", width: 64, height: 48, selecting: PixelRegion(x: 10, y: 10, width: 20, height: 12)
    )
    let editor = FakeEditor.identity()
    let run = try runEdit(
      [
        "--image", input, "--mask", mask, "--prompt", "p", "--output", folder.path("out.png"),
        "--seed", "42",
      ],
      backend: FakeBackend(editor))
    #expect(run.status == 0, "\(run.console.error)")
    #expect(run.console.output == folder.path("out.png") + "\n")
    #expect(
      try RGBImage(contentsOf: URL(fileURLWithPath: folder.path("out.png")))
        == RGBImage(contentsOf: URL(fileURLWithPath: input)))
    #expect(folder.entries == ["in.png", "mask.png", "out.png"])
    let job = try #require(editor.jobs.first)
    #expect(job.seed == 42 && job.image.shape == [3, 48, 64] && job.mask.shape == [48, 64])
    #expect(job.mask[15, 15] == 1 && job.mask[0, 0] == 0)
  }

  @Test("--precision and --threads become the editor's compute settings, and nothing process-wide changes")
  func computeSettingsReachTheEditor() throws {
    let folder = try ScratchFolder()
    let input = try folder.writeImage("in.png", width: 64, height: 48)
    let mask = try folder.writeMask(
      "mask.png", width: 64, height: 48, selecting: PixelRegion(x: 10, y: 10, width: 20, height: 12))
    var seen: [ComputeSettings] = []
    for (index, (precision, threads)) in [("bf16", "1"), ("fp32", "3")].enumerated() {
      let backend = FakeBackend(FakeEditor.identity())
      let run = try runEdit(
        [
          "--image", input, "--mask", mask, "--prompt", "p", "--output", folder.path("out-\(index).png"),
          "--seed", "1", "--precision", precision, "--threads", threads,
        ],
        backend: backend)
      #expect(run.status == 0, "\(run.console.error)")
      seen.append(try #require(backend.lastSettings).computeSettings)
    }
    #expect(
      seen == [
        ComputeSettings(threadCount: 1, matrixPrecision: .bfloat16),
        ComputeSettings(threadCount: min(3, EditSettings.maximumThreadCount)),
      ])
    #expect(ComputeOptions.matrixPrecision == .float32)
    #expect(ComputeOptions.threadCount == ComputeOptions.defaultThreadCount)
  }

  @Test("other sizes are resized to the working size and back; the output has the input's size")
  func resizePolicy() throws {
    let folder = try ScratchFolder()
    let input = try folder.writeImage("in.png", width: 100, height: 60)
    let mask = try folder.writeMask(
      "mask.png", width: 100, height: 60,
      selecting: PixelRegion(x: 40, y: 20, width: 10, height: 10))
    let editor = FakeEditor.identity()
    let run = try runEdit(
      [
        "--image", input, "--mask", mask, "--prompt", "p", "--output", folder.path("out.png"),
        "--json",
      ],
      backend: FakeBackend(editor), randomSeed: { 7 })
    #expect(run.status == 0, "\(run.console.error)")
    #expect(editor.jobs.first?.image.shape == [3, 40, 64])
    let output = try RGBImage(contentsOf: URL(fileURLWithPath: folder.path("out.png")))
    #expect(output.width == 100 && output.height == 60)
    let summary =
      try JSONSerialization.jsonObject(with: Data(run.console.output.utf8)) as? [String: Any]
    #expect((summary?["working_size"] as? [String: Int]) == ["width": 64, "height": 40])
  }

  @Test("--working-size original keeps the image's (or the crop's) own size")
  func originalWorkingSize() throws {
    let folder = try ScratchFolder()
    let input = try folder.writeImage("in.png", width: 100, height: 60)
    let mask = try folder.writeMask(
      "mask.png", width: 100, height: 60,
      selecting: PixelRegion(x: 40, y: 20, width: 10, height: 10))
    let editor = FakeEditor.identity()
    let run = try runEdit(
      [
        "--image", input, "--mask", mask, "--prompt", "p", "--output", folder.path("out.png"),
        "--working-size", "original", "--seed", "2",
      ],
      backend: FakeBackend(editor))
    #expect(run.status == 0, "\(run.console.error)")
    #expect(editor.jobs.first?.image.shape == [3, 60, 100])
    #expect(
      try RGBImage(contentsOf: URL(fileURLWithPath: folder.path("out.png")))
        == RGBImage(contentsOf: URL(fileURLWithPath: input)))
    let cropEditor = FakeEditor.identity(nativeResolution: 32)
    let crop = try runEdit(
      [
        "--image", input, "--mask", mask, "--prompt", "p", "--output", folder.path("crop.png"),
        "--working-size", "original", "--crop-to-mask", "4", "--seed", "2",
      ],
      backend: FakeBackend(cropEditor))
    #expect(crop.status == 0, "\(crop.console.error)")
    #expect(cropEditor.jobs.first?.image.shape == [3, 32, 32])
    #expect(
      try RGBImage(contentsOf: URL(fileURLWithPath: folder.path("crop.png")))
        == RGBImage(contentsOf: URL(fileURLWithPath: input)))
  }

  @Test("--background paste keeps every pixel outside the mask identical")
  func pasteKeepsBackground() throws {
    let folder = try ScratchFolder()
    let input = try folder.writeImage("in.png", width: 90, height: 70)
    let box = PixelRegion(x: 30, y: 20, width: 25, height: 15)
    let mask = try folder.writeMask("mask.png", width: 90, height: 70, selecting: box)
    let run = try runEdit(
      [
        "--image", input, "--mask", mask, "--prompt", "p", "--output", folder.path("out.png"),
        "--background", "paste", "--seed", "1",
      ],
      backend: FakeBackend(FakeEditor.constant()))
    #expect(run.status == 0, "\(run.console.error)")
    let original = try RGBImage(contentsOf: URL(fileURLWithPath: input))
    let output = try RGBImage(contentsOf: URL(fileURLWithPath: folder.path("out.png")))
    for y in 0..<70 {
      for x in 0..<90 {
        for c in 0..<3 {
          let index = 3 * (y * 90 + x) + c
          if x >= box.x && x < box.maxX && y >= box.y && y < box.maxY {
            #expect(output.samples[index] == 26)  // round(255 · 0.1)
          } else {
            #expect(output.samples[index] == original.samples[index])
          }
        }
      }
    }
  }

  @Test("--crop-to-mask edits the mask's neighbourhood at native size and leaves the rest alone")
  func cropToMask() throws {
    let folder = try ScratchFolder()
    let input = try folder.writeImage("in.png", width: 300, height: 200)
    let box = PixelRegion(x: 200, y: 150, width: 20, height: 10)
    let mask = try folder.writeMask("mask.png", width: 300, height: 200, selecting: box)
    let editor = FakeEditor.constant()
    let run = try runEdit(
      [
        "--image", input, "--mask", mask, "--prompt", "p", "--output", folder.path("out.png"),
        "--crop-to-mask", "16", "--json", "--seed", "3",
      ],
      backend: FakeBackend(editor))
    #expect(run.status == 0, "\(run.console.error)")
    #expect(editor.jobs.first?.image.shape == [3, 64, 64])
    let summary = try #require(
      try JSONSerialization.jsonObject(with: Data(run.console.output.utf8)) as? [String: Any])
    let region = try #require(summary["region"] as? [String: Int])
    let crop = PixelRegion(
      x: region["x"]!, y: region["y"]!, width: region["width"]!, height: region["height"]!)
    #expect(crop.width == 64 && crop.height == 64 && crop.contains(box))
    let original = try RGBImage(contentsOf: URL(fileURLWithPath: input))
    let output = try RGBImage(contentsOf: URL(fileURLWithPath: folder.path("out.png")))
    #expect(output.width == 300 && output.height == 200)
    var changed = 0
    for y in 0..<200 {
      for x in 0..<300 {
        let inside = x >= crop.x && x < crop.maxX && y >= crop.y && y < crop.maxY
        for c in 0..<3 {
          let index = 3 * (y * 300 + x) + c
          if inside {
            if output.samples[index] == 26 { changed += 1 }
          } else {
            #expect(output.samples[index] == original.samples[index])
          }
        }
      }
    }
    #expect(changed == 3 * 64 * 64)
  }

  @Test("a batch writes OUT-0 … OUT-(N-1) in the editor's (ranked) order, with scores")
  func batch() throws {
    let folder = try ScratchFolder()
    let input = try folder.writeImage("in.png", width: 64, height: 64)
    let mask = try folder.writeMask(
      "mask.png", width: 64, height: 64, selecting: PixelRegion(x: 0, y: 0, width: 64, height: 8))
    let run = try runEdit(
      [
        "--image", input, "--mask", mask, "--prompt", "p", "--output", folder.path("out.png"),
        "--batch", "3", "--seed", "5",
      ],
      backend: FakeBackend(FakeEditor.constant(scores: [0.9, 0.5, 0.1])))
    #expect(run.status == 0, "\(run.console.error)")
    #expect(folder.entries == ["in.png", "mask.png", "out-0.png", "out-1.png", "out-2.png"])
    for index in 0..<3 {
      let image = try RGBImage(contentsOf: URL(fileURLWithPath: folder.path("out-\(index).png")))
      #expect(image.samples[0] == UInt16(RGBImage.eightBitSample(0.1 * Float(index + 1))))
    }
    #expect(run.console.output.contains(folder.path("out-0.png") + "\tscore 0.9000"))
  }

  @Test("--json prints one machine-readable summary on standard output")
  func jsonSummary() throws {
    let folder = try ScratchFolder()
    let input = try folder.writeImage("in.png", width: 64, height: 64)
    let mask = try folder.writeMask(
      "mask.png", width: 64, height: 64, selecting: PixelRegion(x: 5, y: 5, width: 5, height: 5))
    let run = try runEdit(
      [
        "--image", input, "--mask", mask, "--prompt", "p", "--output", folder.path("o.png"),
        "--json", "--steps", "10",
      ],
      backend: FakeBackend(FakeEditor.identity()), randomSeed: { 99 })
    #expect(run.status == 0)
    #expect(run.console.output.split(separator: "\n").count == 1)
    let summary = try #require(
      try JSONSerialization.jsonObject(with: Data(run.console.output.utf8)) as? [String: Any])
    #expect(summary["seed"] as? Int == 99 && summary["seed_was_random"] as? Bool == true)
    #expect(summary["outputs"] as? [String] == [folder.path("o.png")])
    #expect(summary["model"] as? String == "fake model")
    let timings = try #require(summary["timings"] as? [String: Double])
    for key in ["load_images", "load_model", "edit", "denoising", "write", "total"] {
      #expect(timings[key] != nil, "\(key)")
    }
    let settings = try #require(summary["settings"] as? [String: Any])
    #expect(settings["steps"] as? Int == 10 && settings["steps_run"] as? Int == 7)
  }

  @Test("without --seed a random seed is used and printed")
  func randomSeed() throws {
    let folder = try ScratchFolder()
    let input = try folder.writeImage("in.png", width: 64, height: 64)
    let mask = try folder.writeMask(
      "mask.png", width: 64, height: 64, selecting: PixelRegion(x: 5, y: 5, width: 5, height: 5))
    let editor = FakeEditor.identity()
    let run = try runEdit(
      ["--image", input, "--mask", mask, "--prompt", "p", "--output", folder.path("o.png")],
      backend: FakeBackend(editor), randomSeed: { 123_456 })
    #expect(run.status == 0)
    #expect(editor.jobs.first?.seed == 123_456)
    #expect(run.console.error.contains("seed 123456"))
  }

  @Test("--mask alpha: transparent pixels are the edit area")
  func alphaMask() throws {
    let folder = try ScratchFolder()
    var alpha = [UInt16](repeating: 255, count: 64 * 64)
    for y in 10..<20 { for x in 30..<40 { alpha[y * 64 + x] = 0 } }
    let input = try folder.writeImage("in.png", width: 64, height: 64, alpha: alpha)
    let editor = FakeEditor.identity()
    let run = try runEdit(
      [
        "--image", input, "--mask", "alpha", "--prompt", "p", "--output", folder.path("o.png"),
        "--seed", "1",
      ],
      backend: FakeBackend(editor))
    #expect(run.status == 0, "\(run.console.error)")
    let job = try #require(editor.jobs.first)
    #expect(job.mask[15, 35] == 1 && job.mask[0, 0] == 0)
    #expect(job.mask.scalars.filter { $0 > 0.5 }.count == 100)
    // The output is RGB (alpha is the mask, not part of the result).
    #expect(try RGBImage(contentsOf: URL(fileURLWithPath: folder.path("o.png"))).alpha == nil)
  }

  @Test("progress is drawn on a terminal and not with --quiet or without one")
  func progressOnTerminal() throws {
    let folder = try ScratchFolder()
    let input = try folder.writeImage("in.png", width: 64, height: 64)
    let mask = try folder.writeMask(
      "mask.png", width: 64, height: 64, selecting: PixelRegion(x: 5, y: 5, width: 5, height: 5))
    let base = ["--image", input, "--mask", mask, "--prompt", "p", "--seed", "1"]
    let terminal = try runEdit(
      base + ["--output", folder.path("a.png")], backend: FakeBackend(FakeEditor.identity()),
      console: RecordingConsole(terminal: true))
    #expect(terminal.console.error.contains("denoising") && terminal.console.error.contains("4/4"))
    let quiet = try runEdit(
      base + ["--output", folder.path("b.png"), "--quiet"],
      backend: FakeBackend(FakeEditor.identity()), console: RecordingConsole(terminal: true))
    #expect(quiet.console.error.isEmpty)
    let pipe = try runEdit(
      base + ["--output", folder.path("c.png")], backend: FakeBackend(FakeEditor.identity()),
      console: RecordingConsole(terminal: false))
    #expect(pipe.console.error.isEmpty)
  }

  @Test("the editor's notices are shown (e.g. the demonstration model's random weights)")
  func notices() throws {
    let folder = try ScratchFolder()
    let input = try folder.writeImage("in.png", width: 64, height: 64)
    let mask = try folder.writeMask(
      "mask.png", width: 64, height: 64, selecting: PixelRegion(x: 5, y: 5, width: 5, height: 5))
    let editor = FakeEditor(notices: ["demonstration model: random weights"]) { job, _ in
      .fake(images: [job.image])
    }
    let run = try runEdit(
      [
        "--image", input, "--mask", mask, "--prompt", "p", "--output", folder.path("o.png"),
        "--seed", "1",
      ], backend: FakeBackend(editor))
    #expect(run.console.error.contains("bld: demonstration model: random weights"))
  }
}
