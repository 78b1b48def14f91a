firewall {
    family inet {
        /*
         ** $Id:$
         ** $Date:$
         ** $Revision:$
         **
         ** korefw egress rules for jp; 6 FQDN rules not enforced
         */
        replace: filter korefw-egress {
            interface-specific;
            /*
             ** AudioCodes / Session Border Controller (SBC) (Automation, HA SBC) (japan-firewall-rules.md:9)
             */
            term kf-8253fc557e {
                from {
                    destination-address {
                        /* AudioCodes / Session Border Controller (SBC)
                         ** (Automation, HA SBC) (japan-firewall-rules.md:9) */
                        18.177.19.211/32;
                    }
                    protocol [ tcp udp ];
                    destination-port 5060;
                }
                then accept;
            }
            /*
             ** AudioCodes / Session Border Controller (SBC) (Automation, HA SBC) (japan-firewall-rules.md:11)
             */
            term kf-54b2018f84 {
                from {
                    destination-address {
                        /* AudioCodes / Session Border Controller (SBC)
                         ** (Automation, HA SBC) (japan-firewall-rules.md:11) */
                        18.177.19.211/32;
                    }
                    protocol tcp;
                    destination-port 5061;
                }
                then accept;
            }
            /*
             ** AudioCodes / Session Border Controller (SBC) (Automation, HA SBC) (japan-firewall-rules.md:13)
             */
            term kf-e728f2b109 {
                from {
                    destination-address {
                        /* AudioCodes / Session Border Controller (SBC)
                         ** (Automation, HA SBC) (japan-firewall-rules.md:13) */
                        18.177.19.211/32;
                    }
                    protocol tcp;
                    destination-port 10081;
                }
                then accept;
            }
            /*
             ** AudioCodes / Session Border Controller (SBC) (Automation, HA SBC) (japan-firewall-rules.md:14)
             */
            term kf-6127a7d5cd {
                from {
                    destination-address {
                        /* AudioCodes / Session Border Controller (SBC)
                         ** (Automation, HA SBC) (japan-firewall-rules.md:14) */
                        18.177.19.211/32;
                    }
                    protocol udp;
                    destination-port 6000-65535;
                }
                then accept;
            }
            /*
             ** AudioCodes / Session Border Controller (SBC) (Agent SBC) (japan-firewall-rules.md:15)
             */
            term kf-3c5a504367 {
                from {
                    destination-address {
                        /* AudioCodes / Session Border Controller (SBC)
                         ** (Agent SBC) (japan-firewall-rules.md:15) */
                        18.182.77.145/32;
                    }
                    protocol [ tcp udp ];
                    destination-port 5060;
                }
                then accept;
            }
            /*
             ** AudioCodes / Session Border Controller (SBC) (Agent SBC) (japan-firewall-rules.md:17)
             */
            term kf-6d28ea6031 {
                from {
                    destination-address {
                        /* AudioCodes / Session Border Controller (SBC)
                         ** (Agent SBC) (japan-firewall-rules.md:17) */
                        18.182.77.145/32;
                    }
                    protocol tcp;
                    destination-port 5061;
                }
                then accept;
            }
            /*
             ** AudioCodes / Session Border Controller (SBC) (Agent SBC) (japan-firewall-rules.md:19)
             */
            term kf-a592a0f231 {
                from {
                    destination-address {
                        /* AudioCodes / Session Border Controller (SBC)
                         ** (Agent SBC) (japan-firewall-rules.md:19) */
                        18.182.77.145/32;
                    }
                    protocol udp;
                    destination-port 6000-65535;
                }
                then accept;
            }
            /*
             ** AudioCodes / Session Border Controller (SBC) (Agent SBC) (japan-firewall-rules.md:20)
             */
            term kf-b40a9ab990 {
                from {
                    destination-address {
                        /* AudioCodes / Session Border Controller (SBC)
                         ** (Agent SBC) (japan-firewall-rules.md:20) */
                        18.182.77.145/32;
                    }
                    protocol tcp;
                    destination-port 10081;
                }
                then accept;
            }
            /*
             ** Voice Gateway (VG) / Session Border Controller (SBC) (Agent SBC) (japan-firewall-rules.md:27)
             */
            term kf-aeddfc54d9 {
                from {
                    destination-address {
                        /* Voice Gateway (VG) / Session Border Controller
                         ** (SBC) (Agent SBC) (japan-firewall-rules.md:27) */
                        35.76.183.247/32;
                    }
                    protocol [ tcp udp ];
                    destination-port 5060;
                }
                then accept;
            }
            /*
             ** Voice Gateway (VG) / Session Border Controller (SBC) (Agent SBC) (japan-firewall-rules.md:28)
             */
            term kf-edf3913402 {
                from {
                    destination-address {
                        /* Voice Gateway (VG) / Session Border Controller
                         ** (SBC) (Agent SBC) (japan-firewall-rules.md:28) */
                        35.76.183.247/32;
                    }
                    protocol tcp;
                    destination-port 5061;
                }
                then accept;
            }
            /*
             ** Voice Gateway (VG) / Session Border Controller (SBC) (Agent SBC) (japan-firewall-rules.md:29)
             */
            term kf-e6cc5f4302 {
                from {
                    destination-address {
                        /* Voice Gateway (VG) / Session Border Controller
                         ** (SBC) (Agent SBC) (japan-firewall-rules.md:29) */
                        35.76.183.247/32;
                    }
                    protocol tcp;
                    destination-port 8443;
                }
                then accept;
            }
            /*
             ** Voice Gateway (VG) / Session Border Controller (SBC) (Agent SBC) (japan-firewall-rules.md:30)
             */
            term kf-a77b5c8137 {
                from {
                    destination-address {
                        /* Voice Gateway (VG) / Session Border Controller
                         ** (SBC) (Agent SBC) (japan-firewall-rules.md:30) */
                        54.248.11.38/32;
                    }
                    protocol [ tcp udp ];
                    destination-port 5060;
                }
                then accept;
            }
            /*
             ** Voice Gateway (VG) / Session Border Controller (SBC) (Agent SBC) (japan-firewall-rules.md:31)
             */
            term kf-3209358595 {
                from {
                    destination-address {
                        /* Voice Gateway (VG) / Session Border Controller
                         ** (SBC) (Agent SBC) (japan-firewall-rules.md:31) */
                        54.248.11.38/32;
                    }
                    protocol tcp;
                    destination-port 5061;
                }
                then accept;
            }
            /*
             ** Voice Gateway (VG) / Session Border Controller (SBC) (Agent SBC) (japan-firewall-rules.md:32)
             */
            term kf-ef208f872f {
                from {
                    destination-address {
                        /* Voice Gateway (VG) / Session Border Controller
                         ** (SBC) (Agent SBC) (japan-firewall-rules.md:32) */
                        54.248.11.38/32;
                    }
                    protocol tcp;
                    destination-port 8443;
                }
                then accept;
            }
            /*
             ** Voice Gateway (VG) / Session Border Controller (SBC) (Agent SBC) (japan-firewall-rules.md:33)
             */
            term kf-a0b9b8e9a2 {
                from {
                    destination-address {
                        /* Voice Gateway (VG) / Session Border Controller
                         ** (SBC) (Agent SBC) (japan-firewall-rules.md:33) */
                        35.76.183.247/32;
                    }
                    protocol udp;
                    destination-port 6000-65535;
                }
                then accept;
            }
            /*
             ** Voice Gateway (VG) / Session Border Controller (SBC) (Agent SBC) (japan-firewall-rules.md:34)
             */
            term kf-601b16db78 {
                from {
                    destination-address {
                        /* Voice Gateway (VG) / Session Border Controller
                         ** (SBC) (Agent SBC) (japan-firewall-rules.md:34) */
                        54.248.11.38/32;
                    }
                    protocol udp;
                    destination-port 6000-65535;
                }
                then accept;
            }
            /*
             ** Media Twilio Gateway / Stun server (japan-firewall-rules.md:40)
             */
            term kf-d951d1d9b5 {
                from {
                    destination-address {
                        /* Media Twilio Gateway / Stun server
                         ** (japan-firewall-rules.md:40) */
                        168.86.128.0/18;
                    }
                    protocol udp;
                    destination-port 10000-65535;
                }
                then accept;
            }
            /*
             ** Twilio STUN (japan-firewall-rules.md:53)
             */
            term kf-2fd5c20832 {
                from {
                    destination-address {
                        /* Twilio STUN (japan-firewall-rules.md:53) */
                        13.115.244.0/27;
                    }
                    protocol tcp;
                    destination-port [ 443 5349 ];
                }
                then accept;
            }
            /*
             ** Twilio STUN (japan-firewall-rules.md:54)
             */
            term kf-c2298f6270 {
                from {
                    destination-address {
                        /* Twilio STUN (japan-firewall-rules.md:54) */
                        18.180.220.128/25;
                    }
                    protocol tcp;
                    destination-port [ 443 5349 ];
                }
                then accept;
            }
            /*
             ** Twilio STUN (japan-firewall-rules.md:55)
             */
            term kf-289ecc49dc {
                from {
                    destination-address {
                        /* Twilio STUN (japan-firewall-rules.md:55) */
                        54.65.63.192/26;
                    }
                    protocol tcp;
                    destination-port [ 443 5349 ];
                }
                then accept;
            }
            /*
             ** Twilio STUN (japan-firewall-rules.md:56)
             */
            term kf-5ba36dfe78 {
                from {
                    destination-address {
                        /* Twilio STUN (japan-firewall-rules.md:56) */
                        13.115.244.0/27;
                    }
                    protocol [ tcp udp ];
                    destination-port 3478;
                }
                then accept;
            }
            /*
             ** Twilio STUN (japan-firewall-rules.md:57)
             */
            term kf-3af17743fa {
                from {
                    destination-address {
                        /* Twilio STUN (japan-firewall-rules.md:57) */
                        18.180.220.128/25;
                    }
                    protocol [ tcp udp ];
                    destination-port 3478;
                }
                then accept;
            }
            /*
             ** Twilio STUN (japan-firewall-rules.md:58)
             */
            term kf-9cccea5dba {
                from {
                    destination-address {
                        /* Twilio STUN (japan-firewall-rules.md:58) */
                        54.65.63.192/26;
                    }
                    protocol [ tcp udp ];
                    destination-port 3478;
                }
                then accept;
            }
            /*
             ** Deny every other egress flow.
             */
            term kf-deny-other {
                then {
                    discard;
                }
            }
        }
    }
}
