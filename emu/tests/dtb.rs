//! The generated device tree: `dtc` must read it without a single warning, and the
//! values must be what the configuration says (checked with the `fdt` crate as an
//! independent parser).

use emu::machine::{dtb, MachineConfig};
use emu::mmu::{MmuConfig, SatpMode};
use std::process::Command;

fn config(harts: usize, mode: SatpMode, initrd: Option<(u64, u64)>) -> MachineConfig {
    MachineConfig {
        harts,
        mmu: MmuConfig {
            max_mode: mode,
            ..MmuConfig::default()
        },
        ram_size: 256 << 20,
        bootargs: "console=ttyS0 earlycon=sbi".into(),
        kaslr_seed: 0x0123_4567_89ab_cdef,
        rng_seed: [0x42; 32],
        initrd,
        ..MachineConfig::default()
    }
}

fn configs() -> Vec<MachineConfig> {
    let mut v = Vec::new();
    for harts in [1, 2] {
        for mode in [SatpMode::Sv39, SatpMode::Sv48, SatpMode::Sv57] {
            for initrd in [None, Some((0x8800_0000, 0x8880_1234))] {
                v.push(config(harts, mode, initrd));
            }
        }
    }
    v
}

/// Decompile with dtc; None when dtc is absent and we are not in CI.
fn decompile(blob: &[u8], tag: &str) -> Option<(String, String)> {
    let path = std::env::temp_dir().join(format!("emu-dtb-test-{}-{tag}.dtb", std::process::id()));
    std::fs::write(&path, blob).unwrap();
    let out = Command::new("dtc")
        .args(["-I", "dtb", "-O", "dts"])
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    match out {
        Ok(o) => {
            assert!(
                o.status.success(),
                "dtc failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            Some((
                String::from_utf8(o.stdout).unwrap(),
                String::from_utf8(o.stderr).unwrap(),
            ))
        }
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => panic!(
            "dtc (Debian package device-tree-compiler) is required in CI but cannot run: {e}"
        ),
        Err(e) => {
            eprintln!("SKIPPING dtc checks: dtc not runnable ({e}); install device-tree-compiler");
            None
        }
    }
}

#[test]
fn dtc_reads_every_configuration_without_warnings() {
    for (i, cfg) in configs().iter().enumerate() {
        let blob = dtb::build(cfg).unwrap();
        let Some((dts, stderr)) = decompile(&blob, &i.to_string()) else {
            return;
        };
        assert!(
            stderr.trim().is_empty(),
            "dtc warnings for config {i}:\n{stderr}"
        );
        let mode = cfg.mmu.max_mode.name();
        for expected in [
            "compatible = \"riscv-virtio\";".to_string(),
            "timebase-frequency = <0x989680>;".into(),
            "riscv,isa = \"rv64imafdc_zicntr_zicsr_zifencei\";".into(),
            "riscv,isa-base = \"rv64i\";".into(),
            "riscv,isa-extensions = \"i\\0m\\0a\\0f\\0d\\0c\\0zicntr\\0zicsr\\0zifencei\";".into(),
            format!("mmu-type = \"riscv,{mode}\";"),
            "compatible = \"riscv,cpu-intc\";".into(),
            "memory@80000000".into(),
            "reg = <0x00 0x80000000 0x00 0x10000000>;".into(),
            "clint@2000000".into(),
            "plic@c000000".into(),
            "riscv,ndev = <0x60>;".into(),
            "serial@10000000".into(),
            "compatible = \"ns16550a\";".into(),
            "rtc@101000".into(),
            "compatible = \"google,goldfish-rtc\";".into(),
            "test@100000".into(),
            "compatible = \"sifive,test1\\0sifive,test0\\0syscon\";".into(),
            "compatible = \"syscon-poweroff\";".into(),
            "compatible = \"syscon-reboot\";".into(),
            "value = <0x5555>;".into(),
            "value = <0x7777>;".into(),
            "virtio_mmio@10001000".into(),
            "virtio_mmio@10008000".into(),
            "bootargs = \"console=ttyS0 earlycon=sbi\";".into(),
            "stdout-path = \"/soc/serial@10000000\";".into(),
            "kaslr-seed = <0x1234567 0x89abcdef>;".into(),
            "rng-seed = <0x42424242".into(),
        ] {
            assert!(
                dts.contains(&expected),
                "config {i}: missing `{expected}` in\n{dts}"
            );
        }
        assert_eq!(dts.matches("device_type = \"cpu\";").count(), cfg.harts);
        assert_eq!(dts.contains("linux,initrd-start"), cfg.initrd.is_some());
        if cfg.initrd.is_some() {
            assert!(
                dts.contains("linux,initrd-start = <0x00 0x88000000>;"),
                "{dts}"
            );
            assert!(
                dts.contains("linux,initrd-end = <0x00 0x88801234>;"),
                "{dts}"
            );
        }
    }
}

fn prop_u64(node: &fdt::node::FdtNode, name: &str) -> u64 {
    let v = node
        .property(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .value;
    u64::from_be_bytes(v.try_into().unwrap())
}

fn prop_u32(node: &fdt::node::FdtNode, name: &str) -> u32 {
    let v = node
        .property(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .value;
    u32::from_be_bytes(v.try_into().unwrap())
}

fn cells(node: &fdt::node::FdtNode, name: &str) -> Vec<u32> {
    node.property(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .value
        .chunks(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn parsed_back_values_match_the_configuration() {
    for cfg in configs() {
        let blob = dtb::build(&cfg).unwrap();
        let tree = fdt::Fdt::new(&blob).unwrap();

        let chosen = tree.find_node("/chosen").unwrap();
        assert_eq!(tree.chosen().bootargs(), Some("console=ttyS0 earlycon=sbi"));
        assert_eq!(prop_u64(&chosen, "kaslr-seed"), cfg.kaslr_seed);
        assert_eq!(chosen.property("rng-seed").unwrap().value, &cfg.rng_seed);
        match cfg.initrd {
            Some((start, end)) => {
                assert_eq!(prop_u64(&chosen, "linux,initrd-start"), start);
                assert_eq!(prop_u64(&chosen, "linux,initrd-end"), end);
            }
            None => assert!(chosen.property("linux,initrd-start").is_none()),
        }

        let region = tree.memory().regions().next().unwrap();
        assert_eq!(region.starting_address as u64, 0x8000_0000);
        assert_eq!(region.size, Some(cfg.ram_size as usize));

        let cpus: Vec<_> = tree.cpus().collect();
        assert_eq!(cpus.len(), cfg.harts);
        let mut intc_phandles = Vec::new();
        for (i, cpu) in cpus.iter().enumerate() {
            assert_eq!(cpu.ids().first(), i);
            assert_eq!(
                cpu.property("mmu-type").unwrap().as_str(),
                Some(dtb::mmu_type(cfg.mmu.max_mode))
            );
            let intc = tree
                .find_node(&format!("/cpus/cpu@{i:x}/interrupt-controller"))
                .unwrap();
            intc_phandles.push(prop_u32(&intc, "phandle"));
        }
        let clint = tree.find_node("/soc/clint@2000000").unwrap();
        let expected: Vec<u32> = intc_phandles.iter().flat_map(|&p| [p, 3, p, 7]).collect();
        assert_eq!(cells(&clint, "interrupts-extended"), expected);

        let plic = tree.find_node("/soc/plic@c000000").unwrap();
        let expected: Vec<u32> = intc_phandles.iter().flat_map(|&p| [p, 11, p, 9]).collect();
        assert_eq!(cells(&plic, "interrupts-extended"), expected);
        let plic_phandle = prop_u32(&plic, "phandle");

        let uart = tree.find_node("/soc/serial@10000000").unwrap();
        assert_eq!(prop_u32(&uart, "interrupts"), 10);
        assert_eq!(prop_u32(&uart, "interrupt-parent"), plic_phandle);
        assert_eq!(prop_u32(&uart, "clock-frequency"), 3_686_400);

        for slot in 0..8u32 {
            let path = format!("/soc/virtio_mmio@{:x}", 0x1000_1000 + slot * 0x1000);
            let node = tree.find_node(&path).unwrap();
            assert_eq!(prop_u32(&node, "interrupts"), 1 + slot);
            assert_eq!(prop_u32(&node, "interrupt-parent"), plic_phandle);
        }

        let test = tree.find_node("/soc/test@100000").unwrap();
        let poweroff = tree.find_node("/poweroff").unwrap();
        assert_eq!(prop_u32(&poweroff, "regmap"), prop_u32(&test, "phandle"));
    }
}

#[test]
fn empty_bootargs_are_omitted() {
    let cfg = MachineConfig::default();
    let blob = dtb::build(&cfg).unwrap();
    let tree = fdt::Fdt::new(&blob).unwrap();
    assert!(tree
        .find_node("/chosen")
        .unwrap()
        .property("bootargs")
        .is_none());
    assert_eq!(
        tree.cpus()
            .next()
            .unwrap()
            .property("mmu-type")
            .unwrap()
            .as_str(),
        Some("riscv,sv57")
    );
}
