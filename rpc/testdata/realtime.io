>> {"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransactionSync","params":["0x02f86d82128b05843b9aca008502540be40082520894000000000000000000000000000000000000beef0180c080a0dc5833e788749eaf13609ef0ce9a8a61bcbe5aad270b49b6a77c8b64b9be2029a0248dcb9b27667894e4570c2fefcdcbcce3da61fca8df0f4791a11a9da99cc408"]}
<< {"jsonrpc":"2.0","id":1,"error":{"code":6,"message":"nonce gap: transaction nonce 5, expected nonce 0; the transaction was not pooled","data":"0x0"}}
>> {"jsonrpc":"2.0","id":2,"method":"eth_sendRawTransactionSync","params":["0x02f86d82128b05843b9aca008502540be40082520894000000000000000000000000000000000000beef0180c080a0dc5833e788749eaf13609ef0ce9a8a61bcbe5aad270b49b6a77c8b64b9be2029a0248dcb9b27667894e4570c2fefcdcbcce3da61fca8df0f4791a11a9da99cc408","0x1f4"]}
<< {"jsonrpc":"2.0","id":2,"error":{"code":6,"message":"nonce gap: transaction nonce 5, expected nonce 0; the transaction was not pooled","data":"0x0"}}
>> {"jsonrpc":"2.0","id":3,"method":"eth_sendRawTransactionSync","params":["0x"]}
<< {"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"typed transaction too short"}}
>> {"jsonrpc":"2.0","id":4,"method":"realtime_sendRawTransaction","params":["0x"]}
<< {"jsonrpc":"2.0","id":4,"error":{"code":-32000,"message":"typed transaction too short"}}
>> {"jsonrpc":"2.0","id":5,"method":"eth_getLogsWithCursor","params":[{"fromBlock":"0x0","toBlock":"pending"}]}
<< {"jsonrpc":"2.0","id":5,"result":{"logs":[{"address":"0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0","topics":["0xd2f67e6aeaad1ab7487a680eb9d3363a597afa7a3de33fa9bf3ae6edcb88435d"],"data":"0x0102030400000000000000000000000000000000000000000000000000000000","blockNumber":"0x1","transactionHash":"0x1b5075354238f0b5078a178f81175789295f026a79f642b1705349e437e40751","transactionIndex":"0x3","blockHash":"0xb2740463dec74abbc6a9403cef55605965751cc8da813a5f0541e8c02f8adc40","blockTimestamp":"0x6b49d200","logIndex":"0x0","removed":false}]}}
>> {"jsonrpc":"2.0","id":6,"method":"eth_getLogsWithCursor","params":[{"fromBlock":"0x0","cursor":"zz"}]}
<< {"jsonrpc":"2.0","id":6,"error":{"code":-32602,"message":"invalid cursor \"zz\""}}
>> {"jsonrpc":"2.0","id":7,"method":"eth_createAccessList","params":[{"from":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","to":"0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"}]}
<< {"jsonrpc":"2.0","id":7,"result":{"accessList":[],"error":"execution reverted","gasUsed":"0x523e"}}
>> {"jsonrpc":"2.0","id":8,"method":"eth_createAccessList","params":[{"from":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","to":"0x0000000000000000000000000000000000001234"},"latest",{"0x0000000000000000000000000000000000001234":{"code":"0x60015460005260206000f3"}}]}
<< {"jsonrpc":"2.0","id":8,"result":{"accessList":[{"address":"0x0000000000000000000000000000000000001234","storageKeys":["0x0000000000000000000000000000000000000000000000000000000000000001"]}],"gasUsed":"0x634a"}}
>> {"jsonrpc":"2.0","id":9,"method":"eth_call","params":[{"to":"0x0000000000000000000000000000000000001234"},"latest",{"0x0000000000000000000000000000000000001234":{"code":"0x60015460005260206000f3","stateDiff":{"0x0000000000000000000000000000000000000000000000000000000000000001":"0x00000000000000000000000000000000000000000000000000000000000000aa"}}}]}
<< {"jsonrpc":"2.0","id":9,"result":"0x00000000000000000000000000000000000000000000000000000000000000aa"}
>> {"jsonrpc":"2.0","id":10,"method":"eth_call","params":[{"to":"0x0000000000000000000000000000000000001234"},"latest",{"0x0000000000000000000000000000000000001234":{"code":"0x4360005260206000f3"}},{"number":"0x99"}]}
<< {"jsonrpc":"2.0","id":10,"result":"0x0000000000000000000000000000000000000000000000000000000000000099"}
>> {"jsonrpc":"2.0","id":11,"method":"eth_call","params":[{"to":"0x0000000000000000000000000000000000001234"},"latest",{"0x0000000000000000000000000000000000001234":{"state":{},"stateDiff":{}}}]}
<< {"jsonrpc":"2.0","id":11,"error":{"code":-32000,"message":"account 0x0000000000000000000000000000000000001234 has both 'state' and 'stateDiff'"}}
>> {"jsonrpc":"2.0","id":12,"method":"eth_getBalance","params":["0x0000000000000000000000000000000000001234"]}
<< {"jsonrpc":"2.0","id":12,"result":"0x0"}
>> {"jsonrpc":"2.0","id":13,"method":"eth_callAfter","params":[{"to":"0x0000000000000000000000000000000000001234"},{"account":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","nonce":"0x3"},{"0x0000000000000000000000000000000000001234":{"code":"0x4360005260206000f3"}}]}
<< {"jsonrpc":"2.0","id":13,"result":"0x0000000000000000000000000000000000000000000000000000000000000002"}
>> {"jsonrpc":"2.0","id":14,"method":"eth_callAfter","params":[{"to":"0x0000000000000000000000000000000000001234"},{"account":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8","nonce":"0x1","timeout":1}]}
<< {"jsonrpc":"2.0","id":14,"error":{"code":-32000,"message":"eth_callAfter timed out after 1ms: nonce of 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 is 0, waiting for 1"}}
>> {"jsonrpc":"2.0","id":15,"method":"eth_callAfter","params":[{"to":"0x0000000000000000000000000000000000001234"},{"account":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8"}]}
<< {"jsonrpc":"2.0","id":15,"error":{"code":-32602,"message":"condition: missing nonce"}}
>> [{"jsonrpc":"2.0","id":16,"method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":17,"method":"eth_subscribe","params":["miniBlocks"]},{"jsonrpc":"2.0","id":18,"method":"eth_unsubscribe","params":["0x1"]}]
<< [{"jsonrpc":"2.0","id":16,"result":"0x128b"},{"jsonrpc":"2.0","id":17,"error":{"code":-32000,"message":"WebSocket connection required"}},{"jsonrpc":"2.0","id":18,"error":{"code":-32000,"message":"WebSocket connection required"}}]
>> {"jsonrpc":"2.0","id":19,"method":"eth_sendRawTransactionSync","params":["0x02","soon"]}
<< {"jsonrpc":"2.0","id":19,"error":{"code":-32602,"message":"invalid argument 1: invalid number \"soon\""}}
>> {"jsonrpc":"2.0","id":20,"method":"eth_callAfter","params":[{"to":"0x0000000000000000000000000000000000001234"},{"account":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8","nonce":"zz"}]}
<< {"jsonrpc":"2.0","id":20,"error":{"code":-32602,"message":"invalid argument 1: invalid number \"zz\""}}
>> {"jsonrpc":"2.0","id":21,"method":"eth_getLogsWithCursor","params":[{"fromBlock":"0x0","toBlock":"0x1","cursor":"0x00000000000000090000000000"}]}
<< {"jsonrpc":"2.0","id":21,"error":{"code":-32602,"message":"invalid cursor \"0x00000000000000090000000000\""}}
>> {"jsonrpc":"2.0","id":22,"method":"eth_call","params":[{"to":"0x0000000000000000000000000000000000001234"},"latest",{"0x0000000000000000000000000000000000001234":{"balance":"-0x1"}}]}
<< {"jsonrpc":"2.0","id":22,"error":{"code":-32602,"message":"invalid argument 2: json: cannot unmarshal hex string without 0x prefix into Go struct field OverrideAccount.balance of type *hexutil.Big"}}
