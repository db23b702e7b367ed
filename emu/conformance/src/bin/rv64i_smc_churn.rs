#![no_std]
#![no_main]
conformance::conformance_test!("rv64i_smc_churn");
